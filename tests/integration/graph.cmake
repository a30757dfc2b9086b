# Integration tests of the graph-service daemon (real process, sockets and
# pub/sub). Included from tests/CMakeLists.txt.
if(TARGET graph-service)
  add_executable(test_graph_service ${CMAKE_CURRENT_LIST_DIR}/graph-service/test_graph_service.c)
  target_link_libraries(test_graph_service PRIVATE copilot_bus copilot_core SQLite::SQLite3)
  target_include_directories(test_graph_service PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  add_dependencies(test_graph_service graph-service)
  add_test(NAME integration.graph.daemon
           COMMAND test_graph_service $<TARGET_FILE:graph-service> ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.graph.daemon PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                       LABELS integration)
endif()

# `copilot graph` on the fixture (the CLI links gs_graph).
if(TARGET copilot AND TARGET gs_graph)
  add_test(NAME integration.graph.cli_subgraph
           COMMAND copilot graph job::J-FIN-DAILY --budget 40 --db ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.graph.cli_subgraph PROPERTIES TIMEOUT 60 LABELS integration
    PASS_REGULAR_EXPRESSION "subgraph of 40 nodes, [0-9]+ edges around job::J-FIN-DAILY[^\n]*\n- job::J-FIN-DAILY \\[job\\] Daily Financial Aggregation — cost \\$5,549.00; 54 runs, 9 failed")
  add_test(NAME integration.graph.cli_path
           COMMAND copilot graph job::J-FIN-DAILY --path eviction::EVICT-J-FIN-DAILY-2025-12-05-R02
                   --db ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.graph.cli_path PROPERTIES TIMEOUT 60 LABELS integration
    PASS_REGULAR_EXPRESSION "path of 4 hops[^\n]*\n- job::J-FIN-DAILY [^\n]*\n- jobrun::J-FIN-DAILY-2025-12-05-R02 ")
  add_test(NAME integration.graph.cli_not_found
           COMMAND copilot graph job::J-NOPE --db ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.graph.cli_not_found PROPERTIES TIMEOUT 60 LABELS integration
    PASS_REGULAR_EXPRESSION "copilot graph: unknown node id 'job::J-NOPE' \\(not found\\)")
  add_test(NAME integration.graph.cli_stats COMMAND copilot graph --stats --db ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.graph.cli_stats PROPERTIES TIMEOUT 60 LABELS integration
    PASS_REGULAR_EXPRESSION "nodes 1972, directed edges 5658 \\(2829 relation pairs\\), dangling pairs dropped 2")
endif()
