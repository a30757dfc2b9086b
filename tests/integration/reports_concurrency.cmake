# integration.reports.concurrency — the report-service loop stays responsive
# while reports compute on its worker pool (ordering of replies on one socket,
# coalescing of identical requests, data.changed during a computation) on a
# generated medium DB. See tests/integration/reports/test_report_concurrency.c.
if(TARGET report-service AND TARGET copilot)
  add_executable(test_report_concurrency ${CMAKE_CURRENT_LIST_DIR}/reports/test_report_concurrency.c)
  target_link_libraries(test_report_concurrency PRIVATE copilot_bus copilot_core SQLite::SQLite3)
  target_include_directories(test_report_concurrency PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  add_dependencies(test_report_concurrency report-service copilot)
  add_test(NAME integration.reports.concurrency
           COMMAND test_report_concurrency $<TARGET_FILE:report-service> $<TARGET_FILE:copilot>)
  set_tests_properties(integration.reports.concurrency PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
                       LABELS integration)
endif()
