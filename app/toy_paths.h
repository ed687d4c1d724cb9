// Where the shipped toy checkpoint is: the given path, else models/toy/ in
// the working folder, else beside the source tree the binary was built in.
#pragma once
#include <string>

namespace untwist {

std::string find_toy_model(const std::string& given);

}  // namespace untwist
