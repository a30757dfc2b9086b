# Ops benchmark helper (owned by ops): click->answer latency through every
# daemon, used by tests/bench/run.sh (`make bench`), which also runs every
# other benchmark of tests/bench/ and prints one table. No ctest entry of its
# own: run.sh needs a whole cluster and several minutes.
if(TARGET copilot_core)
  add_executable(bench_ops ${CMAKE_CURRENT_LIST_DIR}/ops/bench_ops.c)
  target_link_libraries(bench_ops PRIVATE copilot_core CURL::libcurl PkgConfig::JANSSON)
endif()
