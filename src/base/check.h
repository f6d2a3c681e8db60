// Moved to the public headers: see include/ferry/check.h.
#pragma once

#include "ferry/check.h"
