# Integration tests of the graph-service daemon (real process, sockets and
# pub/sub). Included from tests/CMakeLists.txt.
if(TARGET graph-service)
  add_executable(test_graph_service ${CMAKE_CURRENT_LIST_DIR}/graph-service/test_graph_service.c)
  target_link_libraries(test_graph_service PRIVATE copilot_bus copilot_core SQLite::SQLite3)
  add_dependencies(test_graph_service graph-service)
  add_test(NAME integration.graph.daemon
           COMMAND test_graph_service $<TARGET_FILE:graph-service> ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.graph.daemon PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                       LABELS integration)
endif()
