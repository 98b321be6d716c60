# Tests of the blkreplay module (none yet).
