// Every update the drivers know, in the order of their tables, and the gradient reductions.
#pragma once
#include "adagrad.h"
#include "adam.h"
#include "amp.h"
#include "grad_norms.h"
#include "grad_ops.h"
#include "probe.h"
#include "rmsprop.h"
#include "sgd.h"
