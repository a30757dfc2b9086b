# Integration tests of the report-service daemon and `copilot report`
# (real processes, sockets and pub/sub). Included from tests/CMakeLists.txt.
set(RS_IT_FIXTURE ${COPILOT_FIXTURE_DB})
if(NOT RS_IT_FIXTURE OR NOT EXISTS ${RS_IT_FIXTURE})
  set(RS_IT_FIXTURE /work/shared/fixtures/seed_usage_rag_data.db)
endif()
if(TARGET report-service AND TARGET copilot)
  add_executable(test_report_service ${CMAKE_CURRENT_LIST_DIR}/reports/test_report_service.c)
  target_link_libraries(test_report_service PRIVATE copilot_bus copilot_core PkgConfig::JANSSON SQLite::SQLite3)
  target_include_directories(test_report_service PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  add_dependencies(test_report_service report-service copilot)
  add_test(NAME integration.reports.daemon
           COMMAND test_report_service $<TARGET_FILE:report-service> $<TARGET_FILE:copilot> ${RS_IT_FIXTURE})
  set_tests_properties(integration.reports.daemon PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                       LABELS integration)
endif()

# `copilot report` locally on the fixture (the CLI links rs_engine).
if(TARGET copilot AND TARGET rs_engine)
  add_test(NAME integration.reports.cli_job_cost COMMAND copilot report job_cost --db ${RS_IT_FIXTURE})
  set_tests_properties(integration.reports.cli_job_cost PROPERTIES TIMEOUT 60 LABELS integration
    PASS_REGULAR_EXPRESSION "Total Cost +\\$200,566\n  Active Jobs +9\n  Avg Reliability +84.2%\n  High-Cost Jobs \\(>10%\\) +2")
  add_test(NAME integration.reports.cli_bad_param
           COMMAND copilot report job_cost --param from=2025-13-01 --db ${RS_IT_FIXTURE})
  set_tests_properties(integration.reports.cli_bad_param PROPERTIES TIMEOUT 60 LABELS integration WILL_FAIL FALSE
    PASS_REGULAR_EXPRESSION "copilot report: from: expected a date YYYY-MM-DD, got '2025-13-01'")
  add_test(NAME integration.reports.cli_facts
           COMMAND copilot report --facts anomaly:J-FIN-DAILY:2025-12-05 --db ${RS_IT_FIXTURE})
  set_tests_properties(integration.reports.cli_facts PROPERTIES TIMEOUT 60 LABELS integration
    PASS_REGULAR_EXPRESSION "severity +critical \\[compute_usage\\]")
  add_test(NAME integration.reports.cli_list COMMAND copilot report --list --db ${RS_IT_FIXTURE})
  set_tests_properties(integration.reports.cli_list PROPERTIES TIMEOUT 60 LABELS integration
    PASS_REGULAR_EXPRESSION "job_cost +available +cost +Job Cost & Reliability")
endif()
