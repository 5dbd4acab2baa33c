// Everything of spindle's runtime in one include.
#pragma once

#include "spindle/async.hpp"
#include "spindle/channel.hpp"
#include "spindle/context.hpp"
#include "spindle/cpu_count.hpp"
#include "spindle/error.hpp"
#include "spindle/fiber_info.hpp"
#include "spindle/go.hpp"
#include "spindle/scheduler.hpp"
#include "spindle/select.hpp"
#include "spindle/sleep.hpp"
#include "spindle/task.hpp"
#include "spindle/task_group.hpp"
#include "spindle/wait_group.hpp"
#include "spindle/yield.hpp"
