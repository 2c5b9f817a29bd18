# Sourced by scripts/run and scripts/test: install Debian/Ubuntu packages that are missing.
# Only calls apt-get when something is missing, so repeated runs are fast and need no network.
install_system_packages() {
    missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "Please install these packages with your system's package manager: ${missing[*]}" >&2
        return 1
    fi
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    echo "Installing system packages: ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# A virtual environment in .venv, so the system Python is never modified (PEP 668 safe).
ensure_venv() {
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv || { echo "python3 -m venv failed: install python3-venv" >&2; return 1; }
    fi
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
}

# What the app needs at run time: OpenSSL, and the libraries Qt 6 loads (xcb for X11 desktops).
RUNTIME_PACKAGES=(python3-venv openssl libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0
    libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-sync1 libxcb-shm0 libxcb-util1 libx11-xcb1)
