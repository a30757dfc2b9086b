# Integration tests of the HTTP gateway (real processes, real sockets).
# Included from tests/CMakeLists.txt after every service is added, so the
# daemons that exist are passed to the test; a missing one is "-" and its
# routes are expected to answer 503.
if(TARGET gateway)
  set(GW_IT_DIR ${CMAKE_CURRENT_LIST_DIR}/gateway)
  add_executable(gw_stall_backend ${GW_IT_DIR}/gw_stall_backend.c)
  target_link_libraries(gw_stall_backend PRIVATE copilot_bus copilot_core)
  add_executable(gw_api_test ${GW_IT_DIR}/gw_api_test.c)
  target_link_libraries(gw_api_test PRIVATE copilot_bus copilot_core PkgConfig::JANSSON PkgConfig::ZMQ)
  add_dependencies(gw_api_test gateway gw_stall_backend)
  set(GW_IT_BACKENDS)
  # retrieval-router is passed as "-" on purpose: it needs replicas with a
  # built index to be ready, which this test does not set up; /search is
  # tested on its 503 path here (and end to end by the retrieval tests).
  foreach(d report-service graph-service prompt-builder retrieval-router llm-gateway)
    if(TARGET ${d} AND NOT d STREQUAL "retrieval-router")
      list(APPEND GW_IT_BACKENDS $<TARGET_FILE:${d}>)
      add_dependencies(gw_api_test ${d})
    else()
      list(APPEND GW_IT_BACKENDS -)
    endif()
  endforeach()
  add_test(NAME integration.gateway.api
           COMMAND gw_api_test $<TARGET_FILE:gateway> $<TARGET_FILE:gw_stall_backend>
                   ${COPILOT_FIXTURE_DB} ${GW_IT_BACKENDS})
  set_tests_properties(integration.gateway.api PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77
                       LABELS integration)
endif()
