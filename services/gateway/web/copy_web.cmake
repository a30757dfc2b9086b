# copy_web.cmake — script mode (cmake -P): copies the UI into OUT.
#   -DSRC=<services/gateway/web> -DOUT=<build>/web -DFILES=a,b,c
# Checks that node_modules holds exactly the vega, vega-lite and vega-embed
# versions package-lock.json pins; otherwise fails with the command to run.
cmake_minimum_required(VERSION 3.19)
string(REPLACE "," ";" files "${FILES}")
set(lock ${SRC}/package-lock.json)
file(READ ${lock} lock_json)
set(vendor
  "vega|build/vega.min.js|LICENSE"
  "vega-lite|build/vega-lite.min.js|LICENSE"
  "vega-embed|build/vega-embed.min.js|LICENSE")
set(problems "")
foreach(v ${vendor})
  string(REPLACE "|" ";" parts "${v}")
  list(GET parts 0 pkg)
  list(GET parts 1 js)
  string(JSON want GET "${lock_json}" packages "node_modules/${pkg}" version)
  set(pj ${SRC}/node_modules/${pkg}/package.json)
  if(NOT EXISTS ${pj} OR NOT EXISTS ${SRC}/node_modules/${pkg}/${js})
    string(APPEND problems "  ${pkg}: not installed in ${SRC}/node_modules\n")
    continue()
  endif()
  file(READ ${pj} pj_json)
  string(JSON have GET "${pj_json}" version)
  if(NOT have STREQUAL want)
    string(APPEND problems "  ${pkg}: node_modules has ${have}, package-lock.json pins ${want}\n")
  endif()
endforeach()
if(problems)
  message(FATAL_ERROR "The web UI needs its npm packages:\n${problems}"
    "Run deploy/install-deps.sh (it runs 'npm ci' in services/gateway/web), then build again.")
endif()

file(MAKE_DIRECTORY ${OUT} ${OUT}/vendor)
foreach(f ${files})
  file(COPY_FILE ${SRC}/${f} ${OUT}/${f} ONLY_IF_DIFFERENT)
endforeach()
foreach(v ${vendor})
  string(REPLACE "|" ";" parts "${v}")
  list(GET parts 0 pkg)
  list(GET parts 1 js)
  list(GET parts 2 lic)
  get_filename_component(name ${js} NAME)
  file(COPY_FILE ${SRC}/node_modules/${pkg}/${js} ${OUT}/vendor/${name} ONLY_IF_DIFFERENT)
  if(EXISTS ${SRC}/node_modules/${pkg}/${lic})
    file(COPY_FILE ${SRC}/node_modules/${pkg}/${lic} ${OUT}/vendor/${pkg}.LICENSE.txt ONLY_IF_DIFFERENT)
  endif()
endforeach()
