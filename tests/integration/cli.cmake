# tests/integration/cli.cmake — the `copilot` CLI's reports/events commands
# and its command-line surface, with real processes (included by
# tests/CMakeLists.txt; sources in tests/integration/cli/):
#   integration.cli.reports   `copilot reports --db` on the fixture: the five
#                             reference reports grouped by pillar in registry
#                             order; --json parses and agrees
#   integration.cli.events    a real event-bus in a temp COPILOT_RUN_DIR;
#                             `copilot events` gets the data.changed of
#                             `copilot db migrate` on a fixture copy, commentary
#                             and alerts, reports a seq gap; text format,
#                             --data-dir, SIGINT, timeouts, usage errors
#   integration.cli.daemons   event-bus + report-service: `copilot reports
#                             --data-dir` == local listing; a real alert
#                             arrives through `copilot events`
#   integration.cli.surface   unknown-command suggestions; --help of every
#                             command (usage, options, examples)
if(TARGET copilot)
  add_executable(test_cli ${CMAKE_CURRENT_LIST_DIR}/cli/test_cli.c)
  target_link_libraries(test_cli PRIVATE copilot_bus copilot_core PkgConfig::JANSSON)
  set(_cli_deps copilot)
  foreach(d event-bus report-service)
    if(TARGET ${d})
      list(APPEND _cli_deps ${d})
    endif()
  endforeach()
  add_dependencies(test_cli ${_cli_deps})
  set(_cli_bin $<TARGET_FILE_DIR:copilot>)
  add_test(NAME integration.cli.reports COMMAND test_cli reports $<TARGET_FILE:copilot> ${COPILOT_FIXTURE_DB})
  add_test(NAME integration.cli.events COMMAND test_cli events ${_cli_bin} ${COPILOT_FIXTURE_DB})
  add_test(NAME integration.cli.daemons COMMAND test_cli daemons ${_cli_bin} ${COPILOT_FIXTURE_DB})
  add_test(NAME integration.cli.surface COMMAND test_cli surface $<TARGET_FILE:copilot>)
  set_tests_properties(integration.cli.reports integration.cli.events integration.cli.daemons
                       integration.cli.surface
                       PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "integration;cli")
endif()
