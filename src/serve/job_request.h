// A job as the API receives it: the JSON body of POST /api/jobs, checked
// field by field before anything is queued. Nothing from a request names a
// file: an uploaded reference arrives as bytes and stays bytes here.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "sample/inversion.h"
#include "share/share_settings.h"

namespace untwist::serve {

// A request the client must change: answered 400 with the message.
class RequestError : public std::runtime_error {
 public:
  explicit RequestError(const std::string& message) : std::runtime_error(message) {}
};

struct RequestLimits {
  size_t max_targets = 8;
  size_t max_prompt_bytes = 1000;
  int max_steps = 200;
  size_t max_image_bytes = 24u << 20;  // decoded upload
  double max_key_scale = 10.0;
};

struct JobRequest {
  std::string reference_prompt;  // the reference's prompt, or an image reference's caption (may be empty)
  std::string reference_image;   // the uploaded PNG or JPEG bytes; empty for a prompt reference
  // How an image reference's row is noised: along the schedule, or by
  // following the model's inversion of the image under its caption.
  bool invert_reference = false;
  InversionSolver reference_solver = InversionSolver::FireFlow;
  std::vector<std::string> targets;
  std::vector<ShareMode> modes{ShareMode::Untwisted};
  uint64_t seed = 0;
  int steps = 0;  // 0: the model's default
  std::string blocks = "default";
  KnobRange s_hf{0.25, 0.75}, s_lf{1.0, 1.4};
  double beta = 2.0;
  Axis0Mode axis0 = Axis0Mode::Flat;
  bool attention = false;  // also draw the attention maps of a shared mode

  // The sharing settings of one of the request's modes.
  ShareSettings share_for(ShareMode mode) const;
  // Everything that decides the images, as the API spells it (an image
  // reference appears as its size in bytes, never its content).
  nlohmann::json to_json() const;
};

// The body of POST /api/jobs -> a checked request; RequestError naming the
// field and what was wrong. Absent fields take the CLI's defaults.
JobRequest parse_job_request(const std::string& body, const RequestLimits& limits);

// Standard base64 (with or without padding, no whitespace) -> bytes;
// RequestError when the text is not base64.
std::string decode_base64(const std::string& text);

}  // namespace untwist::serve
