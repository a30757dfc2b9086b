# Data-layer benchmark (label `bench`, excluded from the default test run):
# generator rows/s per profile and importer rows/s against `sqlite3 .import`
# of the same CSV. small + medium always; large too with COPILOT_BENCH=1.
if(TARGET copilot)
  add_test(NAME bench.data
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/data/bench_data.sh $<TARGET_FILE:copilot> ${CMAKE_BINARY_DIR}/bench/data)
  set_tests_properties(bench.data PROPERTIES TIMEOUT 3600 SKIP_RETURN_CODE 77 LABELS bench)
endif()
