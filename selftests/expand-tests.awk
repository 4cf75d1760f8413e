# SPDX-License-Identifier: GPL-2.0
# The suite as the runners read it, from tests.txt: a command with {stack} is two tests,
# NAME on rvfio and then NAME_upstream on upstream's modules in the same boot (the
# reference the rvfio run is checked against).
BEGIN { FS = OFS = "\t" }
/^(#|$)/ || index($2, "{stack}") == 0 { print; next }
{
	rvfio = upstream = $2
	gsub(/\{stack\}/, "rvfio", rvfio)
	gsub(/\{stack\}/, "upstream", upstream)
	print $1, rvfio
	print $1 "_upstream", upstream
}
