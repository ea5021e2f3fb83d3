#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, used to prove profiles/slurm end to end
# (tests/test_slurm.py) and for trying the profile without a real cluster.
#
#   scripts/slurm/cluster.sh install   apt-get install slurm-wlm + munge (Debian/Ubuntu, as root)
#   scripts/slurm/cluster.sh start     write slurm.conf + gres.conf, start munged, slurmctld,
#                                      slurmd; wait until the node is idle (idempotent)
#   scripts/slurm/cluster.sh stop      stop the three daemons this script started (pid files)
#   scripts/slurm/cluster.sh status    daemons, partition and node; exit 1 when not usable
#
# The cluster: one node (this host, CPUs and memory from nproc/free), one partition
# ($SLURM_LOCAL_PARTITION, default "local"), no accounting database (so no sacct: the
# workflow's profile queries job states with squeue, which MinJobAge=600 keeps answering for
# ten minutes after a job ends). The node advertises $SLURM_LOCAL_GPUS fake GPUs (default 1)
# backed by /dev/null: jobs asking for --gpus=1 or --gres=gpu:1 are scheduled and run with
# CUDA_VISIBLE_DEVICES set, but no real GPU exists, so training must run with
# training.require_gpu false here. Needs root (daemons run as root; a test cluster only).
set -euo pipefail

CONF_DIR=/etc/slurm # where Debian's slurm clients look for slurm.conf
PARTITION=${SLURM_LOCAL_PARTITION:-local}
GPUS=${SLURM_LOCAL_GPUS:-1}
CLUSTER_NAME=hepml-local
STATE_DIR=/var/spool/slurm-local
LOG_DIR=/var/log/slurm-local
RUN_DIR=/run/slurm-local
MUNGE_PID=/run/munge/munged.pid
CTLD_PID=$RUN_DIR/slurmctld.pid
SLURMD_PID=$RUN_DIR/slurmd.pid

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "run as root (the local cluster's daemons run as root)"
}

# True when the pid file names a live process.
alive() {
	local pidfile=$1
	[[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

cmd_install() {
	need_root
	if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
		command -v sbatch >/dev/null && command -v munged >/dev/null; then
		log "slurm-wlm and munge already installed ($(sinfo --version))"
		return
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends slurm-wlm munge
	log "installed $(sinfo --version)"
}

# slurm.conf for this host. RealMemory leaves 10 % to the system: slurmd refuses to
# register a node that claims more memory than it has.
write_slurm_conf() {
	local host=$1 cpus mem_mb gres_line=""
	cpus=$(nproc)
	mem_mb=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')
	if ((GPUS > 0)); then
		gres_line="Gres=gpu:${GPUS}"
	fi
	cat <<EOF
# Written by scripts/slurm/cluster.sh: one-node test cluster, no accounting.
ClusterName=${CLUSTER_NAME}
SlurmctldHost=${host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# No cgroups in containers: track processes through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
GresTypes=gpu
# No slurmdbd: sacct has nothing to read, job states come from squeue, and finished jobs
# stay visible to squeue/scontrol for MinJobAge seconds. (Without slurmdbd, gres/gpu cannot
# be an accounted TRES: allocated GPUs show in 'scontrol show job -d' as GRES=gpu:1(IDX:0).)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
KillWait=10
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=${STATE_DIR}/ctld
SlurmdSpoolDir=${STATE_DIR}/d
SlurmctldPidFile=${CTLD_PID}
SlurmdPidFile=${SLURMD_PID}
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd.log
NodeName=${host} CPUs=${cpus} RealMemory=${mem_mb} ${gres_line} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${host} Default=YES MaxTime=INFINITE State=UP
EOF
}

# gres.conf: fake GPUs backed by /dev/null (no autodetection, no NVML).
write_gres_conf() {
	local host=$1
	echo "# Written by scripts/slurm/cluster.sh: fake GPUs for scheduling tests."
	echo "AutoDetect=off"
	if ((GPUS > 0)); then
		echo "NodeName=${host} Name=gpu Count=${GPUS} File=/dev/null"
	fi
}

# Replace $2 by the text on stdin when it differs; return 0 when the file changed.
install_if_changed() {
	local target=$1 tmp
	tmp=$(mktemp)
	cat >"$tmp"
	if [[ -f $target ]] && cmp -s "$tmp" "$target"; then
		rm -f "$tmp"
		return 1
	fi
	install -m 0644 "$tmp" "$target"
	rm -f "$tmp"
	return 0
}

start_munge() {
	if alive "$MUNGE_PID"; then
		return
	fi
	install -d -o munge -g munge -m 0755 /run/munge
	install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
	if [[ ! -s /etc/munge/munge.key ]]; then
		mungekey --create --keyfile /etc/munge/munge.key
		chown munge:munge /etc/munge/munge.key
		chmod 0400 /etc/munge/munge.key
	fi
	runuser -u munge -- /usr/sbin/munged --pid-file "$MUNGE_PID"
	log "munged started (pid $(cat "$MUNGE_PID"))"
}

# Wait until the node accepts jobs; resume it when an earlier run left it down or drained.
wait_for_node() {
	local host=$1 state=""
	for _ in $(seq 60); do
		state=$(sinfo --noheader --nodes "$host" --format %t 2>/dev/null | head -n 1 || true)
		case $state in
		idle | mix | alloc | comp) return 0 ;;
		down* | drain* | drng* | fail*)
			scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
			;;
		esac
		sleep 1
	done
	alive "$CTLD_PID" || tail -n 5 "$LOG_DIR/slurmctld.log" >&2 || true
	die "node $host did not become usable (state '${state}'); see ${LOG_DIR}/"
}

cmd_start() {
	need_root
	command -v slurmctld >/dev/null || die "slurmctld not found: run '$0 install' first"
	local host restart=0
	host=$(hostname -s)
	install -d -m 0755 "$CONF_DIR" "$STATE_DIR/ctld" "$STATE_DIR/d" "$LOG_DIR" "$RUN_DIR"
	if write_slurm_conf "$host" | install_if_changed "$CONF_DIR/slurm.conf"; then restart=1; fi
	if write_gres_conf "$host" | install_if_changed "$CONF_DIR/gres.conf"; then restart=1; fi
	if ((restart)) && { alive "$CTLD_PID" || alive "$SLURMD_PID"; }; then
		log "configuration changed: restarting the SLURM daemons"
		stop_slurm
	fi
	start_munge
	if ! alive "$CTLD_PID"; then
		/usr/sbin/slurmctld
		log "slurmctld started"
	fi
	if ! alive "$SLURMD_PID"; then
		/usr/sbin/slurmd
		log "slurmd started"
	fi
	wait_for_node "$host"
	log "cluster up: partition '${PARTITION}', node ${host}, $(nproc) CPUs, ${GPUS} fake GPU(s)"
}

# Send TERM to the daemon named by a pid file and wait for it to exit.
stop_one() {
	local name=$1 pidfile=$2 pid
	if ! alive "$pidfile"; then
		rm -f "$pidfile"
		return
	fi
	pid=$(cat "$pidfile")
	kill -TERM "$pid"
	for _ in $(seq 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) ignored TERM: sending KILL"
		kill -KILL "$pid"
	fi
	rm -f "$pidfile"
	log "$name stopped"
}

stop_slurm() {
	stop_one slurmd "$SLURMD_PID"
	stop_one slurmctld "$CTLD_PID"
}

cmd_stop() {
	need_root
	stop_slurm
	stop_one munged "$MUNGE_PID"
}

cmd_status() {
	local ok=0 name pidfile
	for name in munged slurmctld slurmd; do
		case $name in
		munged) pidfile=$MUNGE_PID ;;
		slurmctld) pidfile=$CTLD_PID ;;
		slurmd) pidfile=$SLURMD_PID ;;
		esac
		if alive "$pidfile"; then
			echo "$name: running (pid $(cat "$pidfile"))"
		else
			echo "$name: not running"
			ok=1
		fi
	done
	if ((ok == 0)); then
		sinfo --Node --long
		scontrol show node "$(hostname -s)" | grep -E 'Gres=|CfgTRES=|State='
	fi
	return "$ok"
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 install|start|stop|status" >&2
	exit 2
	;;
esac
