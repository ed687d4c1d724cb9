// The API's request checker: every field's defaults, and a 400-worthy
// RequestError (naming the field) for each kind of bad value.
#include <gtest/gtest.h>

#include "serve/job_request.h"

namespace untwist::serve {
namespace {

const RequestLimits kLimits;

JobRequest parse(const std::string& body) { return parse_job_request(body, kLimits); }

// The RequestError's message for `body`, or "" when it parses.
std::string rejection(const std::string& body) {
  try {
    parse(body);
  } catch (const RequestError& error) {
    return error.what();
  }
  return "";
}

constexpr const char* kOnePixelPng =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";

TEST(ServeRequest, DefaultsFollowTheCli) {
  const JobRequest request = parse(R"({"reference": {"prompt": "red circle on blue"}, "targets": ["square"]})");
  EXPECT_EQ(request.reference_prompt, "red circle on blue");
  EXPECT_TRUE(request.reference_image.empty());
  ASSERT_EQ(request.targets.size(), 1u);
  ASSERT_EQ(request.modes.size(), 1u);
  EXPECT_EQ(request.modes[0], ShareMode::Untwisted);
  EXPECT_EQ(request.seed, 0u);
  EXPECT_EQ(request.steps, 0);
  EXPECT_EQ(request.blocks, "default");
  EXPECT_DOUBLE_EQ(request.s_hf.start, 0.25);
  EXPECT_DOUBLE_EQ(request.s_hf.end, 0.75);
  EXPECT_DOUBLE_EQ(request.s_lf.start, 1.0);
  EXPECT_DOUBLE_EQ(request.s_lf.end, 1.4);
  EXPECT_DOUBLE_EQ(request.beta, 2.0);
  EXPECT_EQ(request.axis0, Axis0Mode::Flat);
  EXPECT_FALSE(request.attention);
}

TEST(ServeRequest, EveryFieldIsRead) {
  const JobRequest request = parse(R"({"reference": {"prompt": "dotted red circle on blue"},
    "targets": ["square", "ring"], "modes": ["none", "full", "untwisted", "stylealigned", "alignedgen"],
    "seed": 9007199254740992, "steps": 12, "attention": true,
    "share": {"blocks": "single:0-2", "s_hf": [0.1, 0.2], "s_lf": 1.2, "beta": 3.5, "axis0": "match"}})");
  EXPECT_EQ(request.targets, (std::vector<std::string>{"square", "ring"}));
  EXPECT_EQ(request.modes.size(), 5u);
  EXPECT_EQ(request.seed, uint64_t{1} << 53);
  EXPECT_EQ(request.steps, 12);
  EXPECT_TRUE(request.attention);
  EXPECT_EQ(request.blocks, "single:0-2");
  EXPECT_DOUBLE_EQ(request.s_hf.end, 0.2);
  EXPECT_DOUBLE_EQ(request.s_lf.start, 1.2);
  EXPECT_DOUBLE_EQ(request.s_lf.end, 1.2);
  EXPECT_DOUBLE_EQ(request.beta, 3.5);
  EXPECT_EQ(request.axis0, Axis0Mode::Match);
  const ShareSettings share = request.share_for(ShareMode::Full);
  EXPECT_EQ(share.mode, ShareMode::Full);
  EXPECT_DOUBLE_EQ(share.s_hf.start, 0.1);
  const nlohmann::json recipe = request.to_json();
  EXPECT_EQ(recipe["share"]["axis0"], "match");
  EXPECT_EQ(recipe["modes"][4], "alignedgen");
}

TEST(ServeRequest, ImageReferencesArriveAsBytes) {
  const JobRequest request = parse(std::string(R"({"reference": {"image": ")") + kOnePixelPng +
                                   R"(", "prompt": "a caption"}, "targets": ["circle"]})");
  EXPECT_EQ(request.reference_image.rfind("\x89PNG", 0), 0u);
  EXPECT_EQ(request.reference_prompt, "a caption");
  const JobRequest data_url = parse(std::string(R"({"reference": {"image": "data:image/png;base64,)") +
                                    kOnePixelPng + R"("}, "targets": ["circle"]})");
  EXPECT_EQ(data_url.reference_image, request.reference_image);
  EXPECT_EQ(data_url.to_json()["reference"]["image_bytes"], request.reference_image.size());
  EXPECT_FALSE(request.invert_reference);
  const JobRequest inverted = parse(std::string(R"({"reference": {"image": ")") + kOnePixelPng +
                                    R"(", "mode": "invert", "solver": "rf-solver"}, "targets": ["circle"]})");
  EXPECT_TRUE(inverted.invert_reference);
  EXPECT_EQ(inverted.reference_solver, InversionSolver::RfSolver);
  EXPECT_EQ(inverted.to_json()["reference"]["mode"], "invert");
  EXPECT_EQ(inverted.to_json()["reference"]["solver"], "rf-solver");
}

TEST(ServeRequest, Base64) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8"), "hello");
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_THROW(decode_base64("aGV$bG8="), RequestError);
  EXPECT_THROW(decode_base64("a"), RequestError);
}

TEST(ServeRequest, BadFieldsAreNamed) {
  const std::string ok_reference = R"("reference": {"prompt": "red circle on blue"})";
  const auto with = [&](const std::string& rest) { return "{" + ok_reference + ", " + rest + "}"; };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not JSON"},
      {"[1, 2]", "JSON object"},
      {R"({"targets": ["square"]})", "reference is missing"},
      {"{" + ok_reference + "}", "targets is missing"},
      {with(R"("targets": [])"), "targets must be"},
      {with(R"("targets": ["  "])"), "targets[0] is empty"},
      {with(R"("targets": [3])"), "targets[0] must be a string"},
      {with(R"("targets": ["a","b","c","d","e","f","g","h","i"])"), "more than the limit of 8"},
      {with(R"("targets": ["a"], "modes": ["half"])"), "modes: share mode 'half'"},
      {with(R"("targets": ["a"], "modes": ["full", "full"])"), "twice"},
      {with(R"("targets": ["a"], "modes": [])"), "modes must be"},
      {with(R"("targets": ["a"], "seed": -1)"), "seed"},
      {with(R"("targets": ["a"], "seed": 1.5)"), "seed"},
      {with(R"("targets": ["a"], "steps": 0)"), "steps is 0"},
      {with(R"("targets": ["a"], "steps": 100000)"), "steps is 100000"},
      {with(R"("targets": ["a"], "share": {"s_hf": [0.1, -1]})"), "share.s_hf[1]"},
      {with(R"("targets": ["a"], "share": {"s_hf": [0.1, 11]})"), "share.s_hf[1]"},
      {with(R"("targets": ["a"], "share": {"s_lf": [1, 2, 3]})"), "share.s_lf must be"},
      {with(R"("targets": ["a"], "share": {"beta": "2"})"), "share.beta must be a number"},
      {with(R"("targets": ["a"], "share": {"beta": 1000})"), "share.beta"},
      {with(R"("targets": ["a"], "share": {"axis0": "round"})"), "share.axis0"},
      {with(R"("targets": ["a"], "share": {"blocks": "single:3-1"})"), "share.blocks"},
      {with(R"("targets": ["a"], "share": {"window": [0, 1]})"), "share has an unknown field 'window'"},
      {with(R"("targets": ["a"], "colour": 1)"), "unknown field 'colour'"},
      {with(R"("targets": ["a"], "attention": 1)"), "attention must be"},
      {R"({"reference": {}, "targets": ["a"]})", "reference needs a prompt or an image"},
      {R"({"reference": {"prompt": ""}, "targets": ["a"]})", "reference.prompt is empty"},
      {R"({"reference": {"url": "http://x"}, "targets": ["a"]})", "unknown field 'url'"},
      {R"({"reference": {"prompt": "a", "mode": "invert"}, "targets": ["a"]})", "give reference.image"},
      {R"({"reference": {"prompt": "a", "mode": "sideways"}, "targets": ["a"]})", "reference.mode must be"},
      {R"({"reference": {"prompt": "a", "solver": "rk4"}, "targets": ["a"]})", "reference.solver"},
      {R"({"reference": {"image": "%%%"}, "targets": ["a"]})", "not base64"},
      {R"({"reference": {"image": "aGVsbG8="}, "targets": ["a"]})", "neither a PNG nor a JPEG"},
      {R"({"reference": {"image": "data:,abc"}, "targets": ["a"]})", "data URL"},
      {R"({"reference": {"prompt": "a\u0001b"}, "targets": ["a"]})", "control character"},
      {"{" + ok_reference + R"(, "targets": [")" + std::string(2000, 'x') + "\"]}", "more than the limit"},
  };
  for (const auto& [body, expected] : cases) {
    const std::string message = rejection(body);
    EXPECT_NE(message.find(expected), std::string::npos) << body.substr(0, 200) << "\n  -> " << message;
  }
}

TEST(ServeRequest, OversizedImagesAreRefusedBeforeDecoding) {
  RequestLimits small;
  small.max_image_bytes = 16;
  const std::string body = R"({"reference": {"image": ")" + std::string(400, 'A') + R"("}, "targets": ["a"]})";
  try {
    parse_job_request(body, small);
    FAIL() << "accepted an image past the limit";
  } catch (const RequestError& error) {
    EXPECT_NE(std::string(error.what()).find("larger than the limit"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace untwist::serve
