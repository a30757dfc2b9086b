# Graph benchmark: load time (SQLite build, cold cache, per table; snapshot
# write; snapshot load warm and cold, checked identical), memory and query
# latency on the large generated profile (`copilot generate --profile large --seed 42`). The database is
# cached at <build>/bench/large-42.db (or COPILOT_BENCH_LARGE_DB); it is
# generated only when COPILOT_BENCH=1, otherwise the test is skipped (77).
if(TARGET gs_graph AND TARGET copilot)
  add_executable(bench_gs_graph ${CMAKE_CURRENT_LIST_DIR}/graph-service/bench_gs_graph.c)
  target_link_libraries(bench_gs_graph PRIVATE gs_graph)
  if(TARGET rs_engine)
    target_link_libraries(bench_gs_graph PRIVATE rs_engine)
    target_compile_definitions(bench_gs_graph PRIVATE GS_BENCH_HAVE_RS=1)
  endif()
  if(DEFINED ENV{COPILOT_BENCH_LARGE_DB})
    set(GS_BENCH_DB $ENV{COPILOT_BENCH_LARGE_DB})
  else()
    set(GS_BENCH_DB ${CMAKE_BINARY_DIR}/bench/large-42.db)
  endif()
  add_test(NAME bench.graph.large COMMAND bench_gs_graph $<TARGET_FILE:copilot> ${GS_BENCH_DB})
  set_tests_properties(bench.graph.large PROPERTIES TIMEOUT 3600 SKIP_RETURN_CODE 77 LABELS bench)
endif()
