# `untwist serve`: the HTTP API on cpp-httplib, the job queue, the SQLite
# history and the page, whose static files are embedded at build time.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(SQLite3 REQUIRED)

set(UNTWIST_PAGE_DIR ${CMAKE_SOURCE_DIR}/src/serve/page)
set(UNTWIST_PAGE_CPP ${CMAKE_BINARY_DIR}/generated/page_files.cpp)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/generated)
add_custom_command(OUTPUT ${UNTWIST_PAGE_CPP}
  COMMAND ${CMAKE_COMMAND} -DPAGE_DIR=${UNTWIST_PAGE_DIR} -DOUTPUT=${UNTWIST_PAGE_CPP}
          -P ${CMAKE_SOURCE_DIR}/src/serve/embed_page.cmake
  DEPENDS ${UNTWIST_PAGE_DIR}/index.html ${UNTWIST_PAGE_DIR}/app.js ${UNTWIST_PAGE_DIR}/style.css
          ${CMAKE_SOURCE_DIR}/src/serve/embed_page.cmake
  COMMENT "Embedding the web page")

add_library(untwist_serve STATIC
  src/serve/job_request.cpp
  src/serve/job_store.cpp
  src/serve/job_runner.cpp
  src/serve/toy_engine.cpp
  src/serve/pipeline_engine.cpp
  src/serve/api_server.cpp
  ${UNTWIST_PAGE_CPP}
)
target_link_libraries(untwist_serve PUBLIC untwist_core SQLite::SQLite3 PRIVATE PkgConfig::HTTPLIB)
target_precompile_headers(untwist_serve REUSE_FROM untwist_core)

target_sources(untwist-engine PRIVATE app/cmd_serve.cpp)
target_link_libraries(untwist-engine PRIVATE untwist_serve)
