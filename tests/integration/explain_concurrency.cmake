# integration.explain.concurrency — prompt-builder answers a Ping while an
# Explain waits for a slow (fake) LLM provider, and runs two explains at once
# (the fake provider sees two completions in flight). Daemons: report-service,
# llm-gateway -> fake-provider, prompt-builder (no graph/retrieval).
# See tests/integration/explain/test_explain_concurrency.c.
if(TARGET prompt-builder)
  add_executable(test_explain_concurrency ${CMAKE_CURRENT_LIST_DIR}/explain/test_explain_concurrency.c)
  target_link_libraries(test_explain_concurrency PRIVATE copilot_bus copilot_core PkgConfig::JANSSON)
  target_include_directories(test_explain_concurrency PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  set(_explain_conc_deps prompt-builder)
  foreach(d report-service llm-gateway)
    if(TARGET ${d})
      list(APPEND _explain_conc_deps ${d})
    endif()
  endforeach()
  add_dependencies(test_explain_concurrency ${_explain_conc_deps})
  # fake-provider is defined by llm.cmake (included after this file)
  function(_explain_conc_late_deps)
    if(TARGET fake-provider)
      add_dependencies(test_explain_concurrency fake-provider)
    endif()
  endfunction()
  cmake_language(DEFER CALL _explain_conc_late_deps)
  add_test(NAME integration.explain.concurrency
           COMMAND test_explain_concurrency ${CMAKE_BINARY_DIR}/bin ${COPILOT_FIXTURE_DB} ${CMAKE_BINARY_DIR}/bin/fake-provider)
  set_tests_properties(integration.explain.concurrency PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77
                       LABELS "integration;explain")
endif()
