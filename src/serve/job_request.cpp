#include "serve/job_request.h"

#include <cmath>
#include <set>

#include "util/errors.h"

namespace untwist::serve {

namespace {

using nlohmann::json;

std::string checked_prompt(const json& value, const std::string& name, const RequestLimits& limits, bool allow_empty) {
  if (!value.is_string()) throw RequestError(name + " must be a string");
  const std::string text = value.get<std::string>();
  if (!allow_empty && text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw RequestError(name + " is empty");
  }
  if (text.size() > limits.max_prompt_bytes) {
    throw RequestError(name + " has " + std::to_string(text.size()) + " bytes, more than the limit of " +
                       std::to_string(limits.max_prompt_bytes));
  }
  for (unsigned char c : text) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') throw RequestError(name + " holds a control character");
  }
  return text;
}

double checked_number(const json& value, const std::string& name, double low, double high) {
  if (!value.is_number()) throw RequestError(name + " must be a number");
  const double number = value.get<double>();
  if (!std::isfinite(number) || number < low || number > high) {
    throw RequestError(name + " is " + value.dump() + ", expected a number from " + json(low).dump() + " to " +
                       json(high).dump());
  }
  return number;
}

// [start, end], or one number for a constant knob.
KnobRange checked_range(const json& value, const std::string& name, double high) {
  if (value.is_number()) {
    const double constant = checked_number(value, name, 0.0, high);
    return {constant, constant};
  }
  if (!value.is_array() || value.size() != 2) throw RequestError(name + " must be [start, end] or one number");
  return {checked_number(value[0], name + "[0]", 0.0, high), checked_number(value[1], name + "[1]", 0.0, high)};
}

std::string checked_image(const json& value, const RequestLimits& limits) {
  if (!value.is_string()) throw RequestError("reference.image must be a base64 string");
  std::string text = value.get<std::string>();
  // A data URL as browsers write them: "data:image/png;base64,...."
  if (text.rfind("data:", 0) == 0) {
    const size_t comma = text.find(',');
    if (comma == std::string::npos || comma < 12 || text.compare(comma - 7, 7, ";base64") != 0) {
      throw RequestError("reference.image is a data URL without base64 content");
    }
    text.erase(0, comma + 1);
  }
  if (text.size() / 4 * 3 > limits.max_image_bytes + 3) {
    throw RequestError("reference.image is larger than the limit of " + std::to_string(limits.max_image_bytes) +
                       " bytes");
  }
  std::string bytes = decode_base64(text);
  const bool png = bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0;
  const bool jpeg = bytes.rfind("\xFF\xD8\xFF", 0) == 0;
  if (!png && !jpeg) throw RequestError("reference.image is neither a PNG nor a JPEG");
  return bytes;
}

void parse_reference(const json& reference, JobRequest& request, const RequestLimits& limits) {
  if (!reference.is_object()) throw RequestError("reference must be an object: {\"prompt\": ...} or {\"image\": ...}");
  for (const auto& [key, value] : reference.items()) {
    if (key != "prompt" && key != "image" && key != "mode" && key != "solver") {
      throw RequestError("reference has an unknown field '" + key + "'");
    }
  }
  if (reference.contains("mode")) {
    const json& mode = reference.at("mode");
    if (!mode.is_string() || (mode != "noise" && mode != "invert")) {
      throw RequestError("reference.mode must be \"noise\" or \"invert\"");
    }
    request.invert_reference = mode == "invert";
    if (request.invert_reference && !reference.contains("image")) {
      throw RequestError("reference.mode \"invert\" inverts a reference image: give reference.image");
    }
  }
  if (reference.contains("solver") && !request.invert_reference) {
    throw RequestError("reference.solver is the inversion's: give it with reference.mode \"invert\"");
  }
  if (reference.contains("solver")) {
    const json& solver = reference.at("solver");
    try {
      request.reference_solver = parse_inversion_solver(solver.is_string() ? solver.get<std::string>() : solver.dump());
    } catch (const UsageError& error) {
      throw RequestError(std::string("reference.solver: ") + error.what());
    }
  }
  if (reference.contains("image")) {
    request.reference_image = checked_image(reference.at("image"), limits);
    if (reference.contains("prompt")) {
      request.reference_prompt = checked_prompt(reference.at("prompt"), "reference.prompt", limits, true);
    }
  } else if (reference.contains("prompt")) {
    request.reference_prompt = checked_prompt(reference.at("prompt"), "reference.prompt", limits, false);
  } else {
    throw RequestError("reference needs a prompt or an image");
  }
}

void parse_share(const json& share, JobRequest& request, const RequestLimits& limits) {
  if (!share.is_object()) throw RequestError("share must be an object");
  for (const auto& [key, value] : share.items()) {
    if (key == "blocks") {
      if (!value.is_string() || value.get<std::string>().empty() || value.get<std::string>().size() > 200) {
        throw RequestError("share.blocks must be a block spec such as \"all\", \"single\" or \"single:0-3\"");
      }
      try {
        SharePlan::parse(value.get<std::string>());
      } catch (const UsageError& error) {
        throw RequestError(std::string("share.blocks: ") + error.what());
      }
      request.blocks = value.get<std::string>();
    } else if (key == "s_hf") {
      request.s_hf = checked_range(value, "share.s_hf", limits.max_key_scale);
    } else if (key == "s_lf") {
      request.s_lf = checked_range(value, "share.s_lf", limits.max_key_scale);
    } else if (key == "beta") {
      request.beta = checked_number(value, "share.beta", 0.0, 100.0);
    } else if (key == "axis0") {
      try {
        request.axis0 = parse_axis0(value.is_string() ? value.get<std::string>() : value.dump());
      } catch (const UsageError& error) {
        throw RequestError(std::string("share.axis0: ") + error.what());
      }
    } else {
      throw RequestError("share has an unknown field '" + key + "'");
    }
  }
}

}  // namespace

ShareSettings JobRequest::share_for(ShareMode mode) const {
  ShareSettings settings;
  settings.mode = mode;
  settings.blocks = SharePlan::parse(blocks);
  settings.s_hf = s_hf;
  settings.s_lf = s_lf;
  settings.beta = beta;
  settings.axis0 = axis0;
  return settings;
}

nlohmann::json JobRequest::to_json() const {
  json reference = json::object();
  if (reference_image.empty()) {
    reference["prompt"] = reference_prompt;
  } else {
    reference["image_bytes"] = reference_image.size();
    reference["mode"] = invert_reference ? "invert" : "noise";
    if (invert_reference) reference["solver"] = inversion_solver_name(reference_solver);
    if (!reference_prompt.empty()) reference["prompt"] = reference_prompt;
  }
  json mode_names = json::array();
  for (ShareMode mode : modes) mode_names.push_back(share_mode_name(mode));
  return {{"reference", reference},
          {"targets", targets},
          {"modes", mode_names},
          {"seed", seed},
          {"steps", steps},
          {"attention", attention},
          {"share",
           {{"blocks", blocks},
            {"s_hf", {s_hf.start, s_hf.end}},
            {"s_lf", {s_lf.start, s_lf.end}},
            {"beta", beta},
            {"axis0", axis0_name(axis0)}}}};
}

JobRequest parse_job_request(const std::string& body, const RequestLimits& limits) {
  json root;
  try {
    root = json::parse(body);
  } catch (const json::exception& error) {
    throw RequestError(std::string("the body is not JSON: ") + error.what());
  }
  if (!root.is_object()) throw RequestError("the body must be a JSON object");
  JobRequest request;
  bool has_reference = false, has_targets = false;
  for (const auto& [key, value] : root.items()) {
    if (key == "reference") {
      parse_reference(value, request, limits);
      has_reference = true;
    } else if (key == "targets") {
      if (!value.is_array() || value.empty()) throw RequestError("targets must be a non-empty array of prompts");
      if (value.size() > limits.max_targets) {
        throw RequestError("targets has " + std::to_string(value.size()) + " prompts, more than the limit of " +
                           std::to_string(limits.max_targets));
      }
      for (size_t i = 0; i < value.size(); ++i) {
        request.targets.push_back(checked_prompt(value[i], "targets[" + std::to_string(i) + "]", limits, false));
      }
      has_targets = true;
    } else if (key == "modes") {
      if (!value.is_array() || value.empty()) throw RequestError("modes must be a non-empty array");
      request.modes.clear();
      std::set<ShareMode> seen;
      for (const json& name : value) {
        if (!name.is_string()) throw RequestError("modes must hold strings");
        ShareMode mode;
        try {
          mode = parse_share_mode(name.get<std::string>());
        } catch (const UsageError& error) {
          throw RequestError(std::string("modes: ") + error.what());
        }
        if (!seen.insert(mode).second) throw RequestError("modes names '" + name.get<std::string>() + "' twice");
        request.modes.push_back(mode);
      }
    } else if (key == "seed") {
      // JSON numbers are exact up to 2^53 in the browsers that send them.
      if (!value.is_number_unsigned() || value.get<uint64_t>() > (uint64_t{1} << 53)) {
        throw RequestError("seed must be an integer from 0 to 2^53");
      }
      request.seed = value.get<uint64_t>();
    } else if (key == "steps") {
      if (!value.is_number_integer()) throw RequestError("steps must be an integer");
      const int64_t steps = value.get<int64_t>();
      if (steps < 1 || steps > limits.max_steps) {
        throw RequestError("steps is " + std::to_string(steps) + ", expected 1 to " + std::to_string(limits.max_steps));
      }
      request.steps = static_cast<int>(steps);
    } else if (key == "share") {
      parse_share(value, request, limits);
    } else if (key == "attention") {
      if (!value.is_boolean()) throw RequestError("attention must be true or false");
      request.attention = value.get<bool>();
    } else {
      throw RequestError("unknown field '" + key + "'");
    }
  }
  if (!has_reference) throw RequestError("reference is missing: {\"prompt\": ...} or {\"image\": ...}");
  if (!has_targets) throw RequestError("targets is missing: an array of prompts");
  return request;
}

std::string decode_base64(const std::string& text) {
  const auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  size_t length = text.size();
  while (length > 0 && text[length - 1] == '=' && text.size() - length < 2) --length;
  if (length % 4 == 1) throw RequestError("reference.image is not base64: its length does not fit");
  std::string bytes;
  bytes.reserve(length / 4 * 3 + 2);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < length; ++i) {
    const int value = value_of(text[i]);
    if (value < 0) throw RequestError("reference.image is not base64: character " + std::to_string(i) + " is not");
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return bytes;
}

}  // namespace untwist::serve
