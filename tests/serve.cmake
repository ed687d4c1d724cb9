# `untwist serve`: the request checker, the API against a live server, and
# the page driven in headless Chromium (puppeteer-core from tests/browser/,
# installed by scripts/setup.sh).
foreach(name test_serve_request test_serve_api)
  add_executable(${name} ${name}.cpp)
  target_link_libraries(${name} PRIVATE untwist_test_support untwist_serve PkgConfig::HTTPLIB GTest::gtest_main)
  target_precompile_headers(${name} REUSE_FROM untwist_core)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(${name} PROPERTIES TIMEOUT 400)
endforeach()

# Registered even without node, so that a machine set up without it fails
# the test instead of skipping it.
find_program(NODE_EXECUTABLE node)
if(NOT NODE_EXECUTABLE)
  set(NODE_EXECUTABLE node)
endif()
add_test(NAME test_serve_browser
         COMMAND ${NODE_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/browser/serve_page.mjs $<TARGET_FILE:untwist>
                 ${CMAKE_BINARY_DIR}/test-output/serve_browser)
set_tests_properties(test_serve_browser PROPERTIES TIMEOUT 300)
