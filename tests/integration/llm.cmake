# tests/integration/llm.cmake — llm-gateway integration tests (included by
# tests/CMakeLists.txt). Everything runs real processes on loopback:
#   fake-provider            OpenAI wire format server with scripted faults
#                            (tests/integration/fake_provider.c; usable by
#                            other areas' e2e tests: $<TARGET_FILE:fake-provider>)
#   integration.llm.faults   lg_gateway against fake-provider over HTTP:
#                            429/Retry-After, 500, timeout, malformed JSON,
#                            slow and stalled streams, dropped connections,
#                            circuit breaker, cache hit, key never logged
#   integration.llm.daemon   the llm-gateway daemon over the bus with and
#                            without the fake provider
add_executable(fake-provider ${CMAKE_CURRENT_LIST_DIR}/fake_provider.c)
target_link_libraries(fake-provider PRIVATE PkgConfig::JANSSON Threads::Threads)

if(TARGET lg_llm AND TARGET PkgConfig::CMOCKA AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/llm/test_faults.c)
  set(LLM_IT_DIR ${CMAKE_CURRENT_LIST_DIR}/llm)
  add_executable(lg_it_faults ${LLM_IT_DIR}/test_faults.c ${LLM_IT_DIR}/lg_it_util.c)
  target_link_libraries(lg_it_faults PRIVATE lg_llm PkgConfig::CMOCKA)
  target_compile_definitions(lg_it_faults PRIVATE FAKE_PROVIDER="$<TARGET_FILE:fake-provider>")
  add_dependencies(lg_it_faults fake-provider)
  add_test(NAME integration.llm.faults COMMAND lg_it_faults)
  set_tests_properties(integration.llm.faults PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "integration;llm")

  if(TARGET llm-gateway AND EXISTS ${CMAKE_CURRENT_LIST_DIR}/llm/test_daemon.c)
    add_executable(lg_it_daemon ${LLM_IT_DIR}/test_daemon.c ${LLM_IT_DIR}/lg_it_util.c)
    target_link_libraries(lg_it_daemon PRIVATE lg_llm copilot_bus PkgConfig::CMOCKA)
    target_compile_definitions(lg_it_daemon PRIVATE FAKE_PROVIDER="$<TARGET_FILE:fake-provider>"
      LLM_GATEWAY="$<TARGET_FILE:llm-gateway>"
      LG_TEST_DATA="${CMAKE_SOURCE_DIR}/tests/unit/llm-gateway/data")
    add_dependencies(lg_it_daemon fake-provider llm-gateway)
    add_test(NAME integration.llm.daemon COMMAND lg_it_daemon)
    set_tests_properties(integration.llm.daemon PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS "integration;llm")
  endif()
endif()
