#!/bin/sh
# install_traps.sh TREE
#
# Makes TREE's GRUB programs traps and its /bin/sh a recorder, to prove that packing TREE runs
# nothing of it (issue 18): each trap writes /var/lib/stamp-trap/fired (inside whatever root
# it runs in) and fails; /bin/sh appends each use to /var/lib/stamp-trap/sh.log and then runs
# dash. After `stamp pack TREE`, the source must hold no `fired` and an empty `sh.log`; in the
# booted guest both may fill (the guest's own scripts run there, as they should).
set -eu
tree=$1
mkdir -p "$tree/var/lib/stamp-trap"
: > "$tree/var/lib/stamp-trap/sh.log"
for p in usr/bin/grub-mkimage usr/bin/grub-editenv usr/bin/grub-mkrelpath usr/bin/grub-mkrescue usr/bin/grub-script-check \
         usr/sbin/grub-mkconfig usr/sbin/grub-probe usr/sbin/grub-install usr/sbin/grub-bios-setup usr/sbin/update-grub; do
    [ -e "$tree/$p" ] || [ -L "$tree/$p" ] || continue
    rm -f "$tree/$p"
    printf '#!/usr/bin/dash\necho "$0 $*" >> /var/lib/stamp-trap/fired\nexit 1\n' > "$tree/$p"
    chmod 0755 "$tree/$p"
done
sh=usr/bin/sh
[ -e "$tree/$sh" ] || [ -L "$tree/$sh" ] || sh=bin/sh
rm -f "$tree/$sh"
printf '#!/usr/bin/dash\necho "sh $*" >> /var/lib/stamp-trap/sh.log\nexec /usr/bin/dash "$@"\n' > "$tree/$sh"
chmod 0755 "$tree/$sh"
