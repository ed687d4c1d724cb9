// The web page's static files (src/serve/page/), embedded in the binary at
// build time by embed_page.cmake, so the page needs nothing from outside.
#pragma once
#include <cstddef>
#include <string>

namespace untwist::serve {

struct PageFile {
  const char* path;          // "/", "/app.js", "/style.css"
  const char* content_type;  // without the charset: every file is UTF-8
  const unsigned char* data;
  size_t size;
};

// The embedded file served at `path`, or nullptr.
const PageFile* find_page_file(const std::string& path);

}  // namespace untwist::serve
