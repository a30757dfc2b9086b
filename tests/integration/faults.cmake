# Fault tolerance (owned by ops): the whole system under `copilot up` with
# steady HTTP load; each scenario SIGKILLs one daemon (three times in a row,
# so the supervisor's back-off grows) and checks bounded latency, clear
# 503/504 JSON errors, full service within 2 s of the restart, no lost search
# with two replicas, event-bus gap detection + SSE resume, and that no
# answered explain is missing from the commentary history. See
# tests/integration/ops/test_faults.c. A scenario exits 77 (skipped) only when
# a daemon binary of the cluster is not built.
#   integration.faults.setup      builds the retrieval index of the fixture once
#   integration.faults.<daemon>   one scenario per daemon (serialised: RESOURCE_LOCK)
if(TARGET copilot AND TARGET copilot_bus)
  add_executable(test_faults ${CMAKE_CURRENT_LIST_DIR}/ops/test_faults.c)
  target_include_directories(test_faults PRIVATE ${CMAKE_CURRENT_LIST_DIR}/ops)
  target_link_libraries(test_faults PRIVATE copilot_bus copilot_core CURL::libcurl
                        PkgConfig::JANSSON Threads::Threads)
  set(FAULTS_INDEX ${CMAKE_BINARY_DIR}/faults-index)
  add_test(NAME integration.faults.setup
           COMMAND $<TARGET_FILE:copilot> index --db ${COPILOT_FIXTURE_DB} --out ${FAULTS_INDEX})
  set_tests_properties(integration.faults.setup PROPERTIES
    TIMEOUT 300 FIXTURES_SETUP faults_index LABELS "integration;faults")
  # Sanitizer builds run everything ~3x slower: deadlines and the recovery
  # window scale by this factor there (2 s stays the figure elsewhere).
  if(COPILOT_SANITIZE)
    set(FAULTS_SLOW 3)
  else()
    set(FAULTS_SLOW 1)
  endif()
  foreach(victim event-bus report-service graph-service llm-gateway retrieval-router
                 retrieval-service prompt-builder gateway)
    add_test(NAME integration.faults.${victim}
             COMMAND test_faults ${victim} $<TARGET_FILE_DIR:copilot> ${COPILOT_FIXTURE_DB}
                     ${FAULTS_INDEX} ${FAULTS_SLOW})
    set_tests_properties(integration.faults.${victim} PROPERTIES
      TIMEOUT 180 SKIP_RETURN_CODE 77 FIXTURES_REQUIRED faults_index RESOURCE_LOCK copilot_faults
      LABELS "integration;faults"
      ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  endforeach()
endif()
