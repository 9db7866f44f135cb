// The schema as a list of migrations: migrations()[i] takes a database from
// version i to version i + 1. Never edit a released step; append a new one.
#pragma once
#include <string>
#include <vector>

namespace scalelab::db {
const std::vector<std::string>& migrations();
}
