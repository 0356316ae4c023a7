/* The least a Cortex-M3 needs to reach main(): a vector table, .data copied, .bss zeroed, the C++
   static constructors run. No HAL, no newlib start-up code (the probes link with -nostartfiles). */
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
int main(void);

void Reset_Handler(void) {
    const uint32_t* src = &_sidata;
    for (uint32_t* dst = &_sdata; dst < &_edata;) *dst++ = *src++;
    for (uint32_t* dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
    main();
    for (;;) {
    }
}

static void Default_Handler(void) {
    for (;;) {
    }
}

__attribute__((section(".isr_vector"), used)) void* const qmtkit_vectors[16] = {
    &_estack,        (void*)Reset_Handler,   (void*)Default_Handler, (void*)Default_Handler,
    (void*)Default_Handler, (void*)Default_Handler, (void*)Default_Handler, 0,
    0,               0,                      0,                      (void*)Default_Handler,
    (void*)Default_Handler, 0,               (void*)Default_Handler, (void*)Default_Handler,
};
