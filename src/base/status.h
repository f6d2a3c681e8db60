// Moved to the public headers: see include/ferry/status.h.
#pragma once

#include "ferry/status.h"
