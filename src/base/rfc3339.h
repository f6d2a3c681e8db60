// Public (the shop and users format CloudEvents times with it): see include/ferry/rfc3339.h.
#pragma once

#include "ferry/rfc3339.h"
