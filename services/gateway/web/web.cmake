# services/gateway/web/web.cmake — builds the web UI into <build>/web/.
#
# Target `copilot_web` (part of ALL) copies the UI's own files and the
# minified browser builds of vega, vega-lite and vega-embed (with their
# licences) from services/gateway/web/node_modules into <build>/web/, the
# directory `copilot up` serves (<bin>/../web). No CDN: the UI works offline.
# node_modules is installed by deploy/install-deps.sh (npm ci); when it is
# missing or does not match package-lock.json the build stops and says so
# (copy_web.cmake). The copy runs on every build but only rewrites files
# whose bytes changed, so the gateway's ETags stay stable.
set(COPILOT_WEB_SRC ${CMAKE_CURRENT_LIST_DIR})
set(COPILOT_WEB_OUT ${CMAKE_BINARY_DIR}/web)
set(COPILOT_WEB_FILES index.html style.css app.js dom.js md.js sse.js favicon.svg)
string(REPLACE ";" "," COPILOT_WEB_FILES_ARG "${COPILOT_WEB_FILES}")
add_custom_target(copilot_web ALL
  COMMAND ${CMAKE_COMMAND} -DSRC=${COPILOT_WEB_SRC} -DOUT=${COPILOT_WEB_OUT}
          -DFILES=${COPILOT_WEB_FILES_ARG} -P ${COPILOT_WEB_SRC}/copy_web.cmake
  COMMENT "Web UI -> ${COPILOT_WEB_OUT}"
  VERBATIM)
