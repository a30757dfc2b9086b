# tests/integration/retrieval_openai.cmake — the OpenAI-compatible embeddings
# client (rt_openai.c) against a real loopback /v1/embeddings server written
# in C inside the test: request body and headers, batching, order restored
# by "index", dimension learnt and a later mismatch, 401/429/500/timeout
# errors and retries; then `copilot index --embedder openai` on the fixture
# and `copilot search` through the same server (real child processes).
if(TARGET copilot AND TARGET rt_retrieval AND TARGET PkgConfig::CMOCKA)
  add_executable(test_rt_openai ${CMAKE_CURRENT_LIST_DIR}/retrieval/test_openai_embed.c)
  target_link_libraries(test_rt_openai PRIVATE rt_retrieval copilot_core PkgConfig::CMOCKA
    PkgConfig::JANSSON Threads::Threads m)
  target_include_directories(test_rt_openai PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  add_dependencies(test_rt_openai copilot)
  add_test(NAME integration.retrieval.openai
           COMMAND test_rt_openai $<TARGET_FILE:copilot> ${COPILOT_FIXTURE_DB})
  set_tests_properties(integration.retrieval.openai PROPERTIES
    TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS integration
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
