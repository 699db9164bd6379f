export DISTRO_NAME=fake
