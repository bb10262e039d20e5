// The counter is a static inline function in the header; this file makes the target buildable.
#include "cycle_counter.h"
