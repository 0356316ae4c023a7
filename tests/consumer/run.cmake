# Configures, builds and runs a consumer project: cmake -DMODE=fetchcontent|find_package
#   -DSRC=<qmtkit source> -DWORK=<scratch dir> -P run.cmake
function(run)
    execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
    endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
set(gen -G Ninja)
if(MODE STREQUAL "fetchcontent")
    run(${CMAKE_COMMAND} ${gen} -S ${SRC}/tests/consumer/fetchcontent -B ${WORK}/app
        -DQMTKIT_SOURCE_DIR=${SRC})
elseif(MODE STREQUAL "find_package")
    # A core-only build of qmtkit, installed to a private prefix, then found by the consumer.
    run(${CMAKE_COMMAND} ${gen} -S ${SRC} -B ${WORK}/qmtkit -DQMTKIT_CORE_ONLY=ON
        -DCMAKE_BUILD_TYPE=Release)
    run(${CMAKE_COMMAND} --build ${WORK}/qmtkit)
    run(${CMAKE_COMMAND} --install ${WORK}/qmtkit --prefix ${WORK}/prefix)
    foreach(f lib/cmake/qmtkit/qmtkitConfig.cmake lib/cmake/qmtkit/qmtkitConfigVersion.cmake
              include/qmtkit/at/engine.hpp)
        if(NOT EXISTS ${WORK}/prefix/${f})
            message(FATAL_ERROR "install is missing ${f}")
        endif()
    endforeach()
    run(${CMAKE_COMMAND} ${gen} -S ${SRC}/tests/consumer/find_package -B ${WORK}/app
        -DCMAKE_PREFIX_PATH=${WORK}/prefix -DQMTKIT_SOURCE_DIR=${SRC})
else()
    message(FATAL_ERROR "MODE must be fetchcontent or find_package")
endif()
run(${CMAKE_COMMAND} --build ${WORK}/app)
run(${WORK}/app/oem_app)
message(STATUS "${MODE} consumer: built and ran")
