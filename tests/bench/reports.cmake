# Report benchmark: every available report cold and warm (p50/p95) on the
# large generated profile (`copilot generate --profile large --seed 42`),
# shared with the graph benchmark at <build>/bench/large-42.db (or
# COPILOT_BENCH_LARGE_DB). Generated only when COPILOT_BENCH=1, otherwise
# skipped (77). COPILOT_BENCH_STRICT=1 turns a missed target into a failure.
if(TARGET rs_engine AND TARGET copilot)
  add_executable(bench_reports ${CMAKE_CURRENT_LIST_DIR}/reports/bench_reports.c)
  target_link_libraries(bench_reports PRIVATE rs_engine copilot_core)
  if(DEFINED ENV{COPILOT_BENCH_LARGE_DB})
    set(RS_BENCH_DB $ENV{COPILOT_BENCH_LARGE_DB})
  else()
    set(RS_BENCH_DB ${CMAKE_BINARY_DIR}/bench/large-42.db)
  endif()
  add_test(NAME bench.reports.large COMMAND bench_reports $<TARGET_FILE:copilot> ${RS_BENCH_DB})
  set_tests_properties(bench.reports.large PROPERTIES TIMEOUT 3600 SKIP_RETURN_CODE 77 LABELS bench)
endif()
