# `untwist serve`: the request checker and the API against a live server.
foreach(name test_serve_request test_serve_api)
  add_executable(${name} ${name}.cpp)
  target_link_libraries(${name} PRIVATE untwist_test_support untwist_serve PkgConfig::HTTPLIB GTest::gtest_main)
  target_precompile_headers(${name} REUSE_FROM untwist_core)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(${name} PROPERTIES TIMEOUT 400)
endforeach()
