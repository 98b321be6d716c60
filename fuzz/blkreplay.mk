# libFuzzer targets of the blkreplay module (none yet).
