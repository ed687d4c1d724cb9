// The server's request checker on arbitrary bodies: each is a job or a
// RequestError, and a job it accepts always yields valid share settings and
// serialises back to JSON.
#include "serve/job_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  untwist::serve::RequestLimits limits;
  limits.max_image_bytes = 4096;
  try {
    const untwist::serve::JobRequest request = untwist::serve::parse_job_request(body, limits);
    for (untwist::ShareMode mode : request.modes) request.share_for(mode);
    request.to_json().dump();
  } catch (const untwist::serve::RequestError&) {
  }
  return 0;
}
