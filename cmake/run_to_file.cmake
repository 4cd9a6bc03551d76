# Runs a built program and keeps its standard output in a file (the man page
# and completions are made by tpmdiag itself). Run as:
#   cmake -DPROGRAM=... -DARGS="a|b" -DOUT=... -P run_to_file.cmake
string(REPLACE "|" ";" ARGS "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${ARGS} OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: exit ${rc}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
