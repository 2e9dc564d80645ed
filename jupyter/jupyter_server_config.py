# JupyterLab settings for `make lab` (read through JUPYTER_CONFIG_PATH=jupyter/).
# ruff: noqa: F821  (``c``, the config object, is Jupyter's)
import os

# Terminals run the user's shell as it is, not as a login shell: a login shell
# reads /etc/profile, which resets PATH and so would lose the venv's bin folder
# (labkit, jupyter, python) that `make lab` puts first.
c.ServerApp.terminado_settings = {"shell_command": [os.environ.get("SHELL") or "/bin/sh"]}
