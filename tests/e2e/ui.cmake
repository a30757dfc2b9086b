# tests/e2e/ui.cmake — the web UI's tests (included from tests/CMakeLists.txt).
#   e2e.markdown  the answer renderer (md.js) against hostile Markdown, in Node
#   e2e.sse       the event-stream parser and reconnecting client (sse.js), in Node
#   e2e.ui        the real UI in Debian's headless Chromium (playwright-core)
#                 against a whole cluster started with `copilot up` on the
#                 fixture DB; screenshots in tests/e2e/artifacts/ (gitignored)
# Node.js or Chromium missing -> the test is skipped (exit 77). The npm
# packages come from deploy/install-deps.sh --test (npm ci, no browser download).
set(E2E_DIR ${CMAKE_CURRENT_LIST_DIR})
set(E2E_WEB_SRC ${CMAKE_SOURCE_DIR}/services/gateway/web)
find_program(COPILOT_NODE node)
if(COPILOT_NODE)
  set(E2E_NODE ${COPILOT_NODE})
else()
  set(E2E_NODE sh -c "echo 'node (Node.js) not found: run deploy/install-deps.sh'; exit 77" --)
endif()

add_test(NAME e2e.markdown COMMAND ${E2E_NODE} ${E2E_DIR}/markdown_test.mjs ${E2E_WEB_SRC})
add_test(NAME e2e.sse COMMAND ${E2E_NODE} ${E2E_DIR}/sse_test.mjs ${E2E_WEB_SRC})
set_tests_properties(e2e.markdown e2e.sse PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77 LABELS e2e)

if(TARGET copilot AND TARGET gateway AND TARGET copilot_web)
  add_test(NAME e2e.ui
           COMMAND ${E2E_NODE} ${E2E_DIR}/ui_test.mjs
                   --copilot $<TARGET_FILE:copilot>
                   --db ${COPILOT_FIXTURE_DB}
                   --artifacts ${E2E_DIR}/artifacts
                   --screenshot ${CMAKE_SOURCE_DIR}/docs/screenshot.png
           WORKING_DIRECTORY ${E2E_DIR})
  set_tests_properties(e2e.ui PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS e2e)
endif()
