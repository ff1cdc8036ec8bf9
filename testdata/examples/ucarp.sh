#!/bin/sh
# ucarp for floatip, one line per node (change --srcip and --advskew):
# ucarp passes the interface and the address to the scripts, --xparam the
# config file with the VIP's other parameters (root only). ucarp waits for
# its scripts without sending adverts: keep advbase * deadratio above the
# cloud's move time.
exec ucarp --interface=eth0 --srcip=10.0.0.11 --vhid=10 --pass=secret --addr=10.0.0.200 \
    --advbase=1 --deadratio=3 --advskew=0 --shutdown \
    --upscript=/usr/sbin/floatip-ucarp-up --downscript=/usr/sbin/floatip-ucarp-down \
    --xparam=/etc/cloudvip/ucarp.conf
