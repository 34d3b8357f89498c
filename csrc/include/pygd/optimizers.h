// Every update the drivers know, in the order of their tables.
#pragma once
#include "adagrad.h"
#include "adam.h"
#include "probe.h"
#include "rmsprop.h"
#include "sgd.h"
