// Precompiled header: the heavy, stable headers every translation unit uses.
#pragma once
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>
