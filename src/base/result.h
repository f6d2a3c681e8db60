// Moved to the public headers: see include/ferry/result.h.
#pragma once

#include "ferry/result.h"
