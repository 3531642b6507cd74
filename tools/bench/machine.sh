# Sourced (never run) by the benchmark and board scripts, from the repository root:
#   . tools/bench/machine.sh; echo "CPU: $(cpu_model)"
# Every figure is printed with the CPU it was measured on: machines of one kind change CPU
# between runs.

# cpu_model: /proc/cpuinfo's first "model name" (lscpu's "Model name"), or "unknown" where there
# is none (most ARM kernels).
cpu_model() {
  local model
  model=$(sed -n '/^model name/{s/^[^:]*: *//p;q;}' /proc/cpuinfo 2>/dev/null || true)
  echo "${model:-unknown}"
}
