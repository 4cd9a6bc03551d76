#!/usr/bin/env python3
"""Generate a realistic ESXi log corpus, with TPM incidents injected at known lines.

The output is one file of interleaved vmkernel + hostd (+ vpxa) lines, as one host
writes them over many boots (think of a syslog collector's per-host file).  Noise comes
from many message families (storage/NMP/ScsiDeviceIO, uplinks/ports, vMotion, VMFS
heartbeats, vSAN, hostd HTTP/vmomi sessions and tasks, vpxa LROs, `-->` continuation
lines ...).  Every boot writes a vmkernel boot sequence with the TPM driver init lines and,
~25 s later, the hostd TPM provider lines.  About every other boot fails with one cause
of the DESIGN.md §4 taxonomy, using the failure lines *verbatim* from
/work/shared/domain/esxi-tpm-catalogue.md (+ addendum) and the seed thread.  The truth
file (--truth) records where every injected failure line landed.

  bench/gen_corpus.py --size 1G --seed 1 --out /tmp/c.log --truth /tmp/c.truth.json --gzip

Shapes (catalogue §b; "I" marks our inference):
  ESXi 7 vmkernel  2021-10-29T19:41:04.933Z cpu16:2097621)tpmDriver: Tpm2Init:1859: ...
  ESXi 7 hostd     2021-10-29T19:41:29.231Z info hostd[2099349] [Originator@6876 sub=Libs] ...
                   --> continuation lines carry no prefix (I; vpxd sample in §b.6)
  ESXi 8 vmkernel  2025-12-11T16:42:01.171Z In(182) vmkernel: cpu0:170428)Uplink: 537: ...
                   early boot: 2022-10-19T05:40:26Z In(182) vmkernel: VMB_TPM: 99: ...
                   WARNING/ALERT lines as Wa(180)/Al(177) vmkernel: (PRI arithmetic, I)
  ESXi 8 hostd     2025-12-11T16:43:23.314Z In(166) Hostd[169827]: [Originator@6876 sub=...] ...
                   Er(163)/Wa(164)/Db(167) for error/warning/verbose; continuation lines
                   repeat the header: ... In(166) Hostd[169797]: --> ...
Message *texts* of TPM lines are verbatim from the sources; the noise texts are modelled
on the quoted samples and on common ESXi messages (ids, counters and names are random).

Line numbers in the truth file are 1-based and count every physical line (a `-->`
continuation line is a line).  The generator is deterministic for a given
(--seed, --size, --format, --boots, --mix) and uses only the Python standard library.
--mix picks the shares (boots per GiB, lines per boot, noise families, hosts): see MIXES.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import collections
import json
import os
import random
import subprocess
import sys
import time

GENERATOR = "tpmdiag bench/gen_corpus.py"
GENERATOR_VERSION = 2          # bump when the output for a given seed changes

# ---------------------------------------------------------------------------------------
# Causes this generator can inject (ids from DESIGN.md §4) and the ESXi versions whose
# logs are known to show the lines.  CRB and KB 436517 lines are only documented for 8.x.
# ---------------------------------------------------------------------------------------
CAUSES = {
    "tpm_firmware_outdated": (7, 8),          # seed thread (7.0); 8.x shape is I
    "pcr_bank_sha1_only": (7, 8),             # KB 323610 (6.5-8.0)
    "tpm_interface_crb_unsupported": (8,),    # williamlam 2022-10 (7.x did not print it)
    "tpmdriver_load_failure": (7, 8),         # KB 323610; Dasharo #1231 (8.x)
    "tpm_communication_failure": (8,),        # KB 436517 (8.x)
    "ek_certificate_unsupported": (7, 8),     # KB 334591 (6.7-8.x)
}

UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
         "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30}


def parse_size(text: str) -> int:
    """'1G' -> 1073741824 (binary units: K=KiB, M=MiB, G=GiB)."""
    s = text.strip().upper()
    i = len(s)
    while i and not s[i - 1].isdigit():
        i -= 1
    num, unit = s[:i], s[i:].strip()
    if not num or unit not in UNITS:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (use e.g. 64M, 1G, 500000)")
    return int(float(num) * UNITS[unit])


FRAC = [".%03dZ" % i for i in range(1000)]


class Clock:
    """Timestamp strings for epoch milliseconds, cached per second."""

    def __init__(self):
        self.sec = -1
        self.pre = ""

    def prefix(self, sec: int) -> str:
        if sec != self.sec:
            self.sec = sec
            self.pre = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return self.pre

    def ms(self, t: int) -> str:
        s = t // 1000
        return self.prefix(s) + FRAC[t - s * 1000]

    def sec_only(self, t: int) -> str:
        return self.prefix(t // 1000) + "Z"


# ---------------------------------------------------------------------------------------
# Per-version line formatting.  Every formatter returns the text that follows the
# timestamp (it starts with a space).  A '\x01' marks where a continuation line needs the
# timestamp of the record (the assembler substitutes it).
# ---------------------------------------------------------------------------------------
HOSTD8_SEV = {"info": "In(166)", "warning": "Wa(164)", "error": "Er(163)", "verbose": "Db(167)"}
VMK8_SEV = {"info": "In(182)", "warning": "Wa(180)", "alert": "Al(177)"}
VMK_TAG = {"info": "", "warning": "WARNING: ", "alert": "ALERT: "}


class Fmt:
    def __init__(self, version: int):
        self.version = version

    def vmk(self, cpu: int, world: int, msg: str, sev: str = "info", opid: str | None = None) -> str:
        op = f" opID={opid}" if (opid and self.version == 8) else ""
        if self.version == 7:
            return f" cpu{cpu}:{world}){VMK_TAG[sev]}{msg}"
        return f" {VMK8_SEV[sev]} vmkernel: cpu{cpu}:{world}{op}){VMK_TAG[sev]}{msg}"

    def vmk_early(self, msg: str) -> str:
        # ESXi 8 boot-loader (VMB) lines: no cpu/world prefix (catalogue §b.2)
        return f" In(182) vmkernel: {msg}"

    def proc(self, proc: str, level: str, tid: int, meta: str, msg: str, cont=()) -> str:
        """hostd / vpxa record; `cont` are continuation payloads (without the '--> ')."""
        if self.version == 7:
            head = f" {level} {proc}[{tid}] [Originator@6876 {meta}] {msg}"
            if cont:
                head += "".join("\n--> " + c for c in cont)
            return head
        name = "Hostd" if proc == "hostd" else "Vpxa"
        sev = HOSTD8_SEV[level]
        head = f" {sev} {name}[{tid}]: [Originator@6876 {meta}] {msg}"
        if cont:
            head += "".join(f"\n\x01 In(166) {name}[{tid}]: --> {c}" for c in cont)
        return head

    def vobd(self, msg: str, tid: int) -> str:
        # vobd.log (catalogue §b.5): 7.0 "...Z: [Correlator] ..."; 8.0 "...Z In(14) vobd[tid]:  [...]"
        if self.version == 7:
            return ": " + msg
        return f" In(14) vobd[{tid}]:  {msg}"


# ---------------------------------------------------------------------------------------
# Host and boot state (random ids that stay stable for a host or a boot).
# ---------------------------------------------------------------------------------------
VM_WORDS = ["web", "db", "app", "sql", "dc", "file", "mail", "proxy", "build", "jump", "k8s",
            "etcd", "redis", "kafka", "vdi", "log", "mon", "backup", "print", "ldap", "ci"]
MODULES = ["nmlx5_core", "ixgben", "i40en", "ntg3", "lsi_mr3", "lsi_msgpt3", "nvme_pcie",
           "vmw_ahci", "vmkusb", "smartpqi", "qlnativefc", "lpfc", "nfnic", "iavmd", "bnxtnet",
           "nenic", "vmw_satp_alua", "vmw_psp_rr", "vmkibft", "vmkfbft", "iscsi_vmk", "nfs41client",
           "vsan", "lsomcommon", "cbt", "hbr_filter", "vflash", "dvfilter", "etherswitch", "vdfm"]
JUMPSTART = ["vmkeventd", "vmkapi-mgmt", "dma-engine", "procfs", "mgmtvmkapi", "vmkapi", "iodm",
             "vmkernel-vmkapi-compatibility", "storage-drivers", "networking-drivers", "vsan",
             "restore-system-swap", "cbrc", "vflash", "dvfilter", "esxui", "autodeploy-setpassword"]


def hexs(r: random.Random, n: int) -> str:
    return "%0*x" % (n, r.getrandbits(4 * n))


def uuid(r: random.Random) -> str:
    h = hexs(r, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def vmfs_uuid(r: random.Random) -> str:
    return f"{hexs(r, 8)}-{hexs(r, 8)}-{hexs(r, 4)}-{hexs(r, 12)}"


class Host:
    """Things that stay the same across boots of one host."""

    def __init__(self, r: random.Random, name: str):
        self.name = name
        self.ncpu = r.choice([16, 24, 32, 40, 48, 56, 64])
        self.naa = ["naa.6" + hexs(r, 31) for _ in range(10)]
        self.naa += ["t10.ATA_____" + r.choice(["Micron_5300_MTFDDAK960TDS", "SAMSUNG_MZ7LH960HAJR",
                                                 "INTEL_SSDSC2KG960G8"]) + "_" * 4 + hexs(r, 12).upper()
                     for _ in range(2)]
        self.vmhba = [f"vmhba{i}" for i in range(0, 5)]
        self.nics = [f"vmnic{i}" for i in range(r.choice([2, 4, 6]))]
        self.vms = [f"{r.choice(VM_WORDS)}-{r.choice(VM_WORDS)}-{r.randrange(1, 99):02d}" for _ in range(40)]
        self.ds = [(f"{r.choice(['DS', 'VMFS', 'LUN', 'vsanDatastore', 'datastore'])}{r.randrange(1, 40):02d}",
                    vmfs_uuid(r)) for _ in range(6)]
        self.ip = f"10.{r.randrange(0, 250)}.{r.randrange(0, 250)}.{r.randrange(10, 250)}"
        self.peers = [f"10.{r.randrange(0, 250)}.{r.randrange(0, 250)}.{r.randrange(10, 250)}" for _ in range(8)]
        self.vc_ip = f"10.{r.randrange(0, 250)}.{r.randrange(0, 250)}.{r.randrange(10, 250)}"
        self.vsan_uuids = [uuid(r) for _ in range(30)]
        self.tpm_vendor = r.choice(["IFX", "NTC", "STM"])   # K4 names IFX/NTZ/NTC/INTC


class Boot:
    """Ids that change at every boot (world ids, thread ids)."""

    def __init__(self, r: random.Random, host: Host, version: int):
        self.version = version
        if version == 7 or r.random() < 0.3:
            base = r.randrange(2097160, 2099000)
        else:
            base = r.randrange(130000, 270000)
        self.worlds = sorted(base + r.randrange(0, 3500) for _ in range(48))
        self.boot_world = base + r.randrange(400, 600)
        tbase = r.randrange(2098800, 2100500) if (version == 7 or r.random() < 0.4) else r.randrange(160000, 1060000)
        self.hostd_tids = [tbase + r.randrange(0, 900) for _ in range(10)]
        self.hostd_main = self.hostd_tids[0]
        self.vpxa_tids = [tbase + r.randrange(900, 2500) for _ in range(5)]
        self.vobd_tid = tbase - r.randrange(1000, 2000)
        self.port_base = r.randrange(0x2000000, 0x6000000)
        self.n = 0   # a counter for task/event numbers


# ---------------------------------------------------------------------------------------
# Noise families.  Each returns one record tuple:
#   ("vmk", sev, msg, opid)                        vmkernel
#   ("hostd"|"vpxa", level, meta, msg, cont)       hostd / vpxa (cont = continuation list)
#   ("vobd", msg)                                  vobd (bundles only)
# None of these texts contains "tpm" except by accident in random base64.
# ---------------------------------------------------------------------------------------
SCSI_OPS = ["0x85", "0x4d", "0x1a", "0x9e", "0x28", "0x2a", "0x89", "0x42"]
SENSE = ["0x5 0x20 0x0", "0x5 0x24 0x0", "0x6 0x29 0x0", "0x2 0x4 0x3", "0x5 0x25 0x0", "0x4 0x44 0x0"]
TASKS = ["vim.SearchIndex.findByInventoryPath", "vim.host.DatastoreBrowser.search",
         "vim.VirtualMachine.createSnapshot", "vim.VirtualMachine.removeSnapshot",
         "vim.host.NetworkSystem.queryNetworkHint", "vim.HostSystem.retrieveInternalCapability",
         "vim.host.StorageSystem.refreshStorageSystem", "vim.VirtualMachine.reconfigure",
         "vim.host.DatastoreSystem.queryVmfsDatastoreCreateOptions", "vim.VirtualMachine.powerOn"]
VMOMI_METHODS = ["vim.PropertyCollector.retrieveContents", "vim.HostSystem.retrieveInternalCapability",
                 "vim.SessionManager.sessionIsActive", "vim.host.HealthStatusSystem.refresh",
                 "vim.PerformanceManager.queryStats", "vim.host.VsanInternalSystem.queryVsanStatistics",
                 "vim.view.ViewManager.createContainerView", "vim.ServiceInstance.retrieveContent"]
VM_STATES = ["VM_STATE_ON", "VM_STATE_OFF", "VM_STATE_CREATE_SNAPSHOT", "VM_STATE_REMOVE_SNAPSHOT",
             "VM_STATE_RECONFIGURING", "VM_STATE_EMIGRATING", "VM_STATE_IMMIGRATING"]
AUDIT_EVENTS = ["esx.audit.net.firewall.config.changed", "esx.audit.ssh.session.opened",
                "esx.audit.dcui.login.passwd.changed", "esx.audit.account.loginfailures",
                "esx.audit.shell.enabled", "esx.audit.vmfs.volume.mounted"]


def w(r, b):
    return r.choice(b.worlds)


def cpu(r, h):
    return r.randrange(h.ncpu)


def opid(r):
    k = r.random()
    if k < 0.45:
        return f"{hexs(r, 8)}-{hexs(r, 2)}-{hexs(r, 4)}"
    if k < 0.7:
        return f"esxui-{hexs(r, 4)}-{hexs(r, 4)}"
    if k < 0.85:
        return f"PollQuickStatsLoop-{hexs(r, 8)}-{hexs(r, 2)}"
    return f"lro-{r.randrange(1000, 999999)}-{hexs(r, 8)}-{hexs(r, 2)}"


def sid(r):
    return hexs(r, 8)


def f_scsi_failed(r, h, b):
    world = w(r, b)
    return ("vmk", "info", f"ScsiDeviceIO: 4176: Cmd(0x45{hexs(r, 10)}) {r.choice(SCSI_OPS)}, CmdSN 0x{r.randrange(1, 1 << 20):x} "
            f"from world {world} to dev \"{r.choice(h.naa)}\" failed H:0x0 D:0x2 P:0x0 Valid sense data: {r.choice(SENSE)}.", None)


def f_nmp_throttle(r, h, b):
    world = w(r, b)
    if r.random() < 0.5:
        return ("vmk", "info", f"NMP: nmp_ThrottleLogForDevice:3856: Cmd {r.choice(SCSI_OPS)} (0x45{hexs(r, 10)}, {world}) to dev "
                f"\"{r.choice(h.naa)}\" on path \"{r.choice(h.vmhba)}:C0:T{r.randrange(8)}:L{r.randrange(64)}\" Failed:", None)
    return ("vmk", "info", f"NMP: nmp_ThrottleLogForDevice:3864: H:0x0 D:0x2 P:0x0 Valid sense data: {r.choice(SENSE)}. "
            f"Act:NONE. cmdId.initiator=0x430{hexs(r, 9)} CmdSN 0x{r.randrange(1, 1 << 20):x}", None)


def f_nmp_reset(r, h, b):
    return ("vmk", "info", f"NMP: nmp_ResetDeviceLogThrottling:3776: last error status from device {r.choice(h.naa)} "
            f"repeated {r.randrange(1, 400)} times", None)


def f_scsi_perf(r, h, b):
    dev = r.choice(h.naa)
    a = r.randrange(200, 4000)
    if r.random() < 0.5:
        return ("vmk", "warning", f"ScsiDeviceIO: 1513: Device {dev} performance has deteriorated. I/O latency increased "
                f"from average value of {a} microseconds to {a * r.randrange(15, 60)} microseconds.", None)
    return ("vmk", "info", f"ScsiDeviceIO: 1487: Device {dev} performance has improved. I/O latency reduced from "
            f"{a * r.randrange(15, 60)} microseconds to {a * r.randrange(2, 6)} microseconds.", None)


def f_uplink(r, h, b):
    nic = r.choice(h.nics)
    k = r.random()
    if k < 0.3:
        return ("vmk", "info", f"Uplink: 537: {nic}: Driver claims supporting 0 RX queues, and 0 queues are accepted.", None)
    if k < 0.55:
        return ("vmk", "info", f"NetPort: 1580: disabled port 0x{b.port_base + r.randrange(4096):x}", None)
    if k < 0.8:
        return ("vmk", "info", f"Net: 2524: connected {r.choice(h.vms)} eth{r.randrange(2)} to VM Network, "
                f"portID 0x{b.port_base + r.randrange(4096):x}", None)
    return ("vmk", "info", f"NetqueueBal: 5047: {nic}: device Up notification, reset logical space needed", None)


def f_entropy(r, h, b):
    return ("vmk", "info", "NRandomHwrng: 500: Out of entropy, refreshing.", None)


def f_mca(r, h, b):
    return ("vmk", "info", f"MCA: 202: CE Intr G0 B{r.randrange(1, 24)} S0x8c000{hexs(r, 11)} A0x{hexs(r, 9)} "
            f"M0x{hexs(r, 4)} P0x{hexs(r, 9)}/0x40 Misc0x{hexs(r, 9)}/0x{hexs(r, 7)}", None)


def f_vmotion(r, h, b):
    mig = r.randrange(10 ** 18, 10 ** 19)
    k = r.random()
    if k < 0.4:
        return ("vmk", "info", f"VMotion: 4655: {mig} S: Stream connection {r.randrange(1, 8)} added.", None)
    if k < 0.7:
        return ("vmk", "info", f"Migrate: vm {w(r, b)}: 3885: Setting VMOTION info: Source ts = {mig}, src ip = <{h.ip}> "
                f"dest ip = <{r.choice(h.peers)}> Dest wid = {r.randrange(2100000, 2200000)} using SHARED swap, encrypted", None)
    return ("vmk", "info", f"VMotionSend: 3508: {mig} S: Sent all modified pages to destination (network bandwidth ~"
            f"{r.randrange(300, 9000)}.{r.randrange(1000):03d} MB/s)", None)


def f_hbx(r, h, b):
    name, u = r.choice(h.ds)
    off = r.randrange(1, 4000) * 4096
    c, world = cpu(r, h), w(r, b)
    return ("vmk2", c, world,
            f"HBX: 283: '{name}': HB at offset {off} - Reclaimed heartbeat [Timeout]:",
            f"  [HB state abcdef02 offset {off} gen {r.randrange(1, 900)} stampUS {r.randrange(10 ** 9, 10 ** 12)} "
            f"uuid {u} jrnl <FB {r.randrange(0, 90000)}> drv 24.82 lockImpl 4 ip {r.choice(h.peers)}]")


def f_vsan(r, h, b):
    u = r.choice(h.vsan_uuids)
    k = r.random()
    if k < 0.3:
        return ("vmk", "info", f"LSOMCommon: SSDLOG_AddLog:6402: Throttled: Waiting for ssd log space on {u}", None)
    if k < 0.55:
        return ("vmk", "info", f"DOM: DOMOwner_SetLivenessState:8023: Object {u} lost liveness [0x45{hexs(r, 10)}]", None)
    if k < 0.8:
        return ("vmk", "info", f"PLOG: PLOGProbeDevice:6328: Probed plog device <{r.choice(h.naa)}:1> 0x43{hexs(r, 10)} "
                f"exists.. continue with old entry", None)
    return ("vmk", "info", f"CMMDS: CMMDSStateDestroyNode:711: Destroying node {u}: Node left the cluster", None)


def f_fss(r, h, b):
    return ("vmk", "info", f"FSS: 6751: Failed to open file 'hpilo-d0ccb15'; Requested flags 0x5, world: {w(r, b)} "
            f"[sfcb-smx], (Existing flags 0x5, world: {w(r, b)} [sfcb-smx]): Busy", None)


def f_vscsi(r, h, b):
    return ("vmk", "info", f"VSCSI: 2611: handle {r.randrange(8192, 9000)}(vscsi0:{r.randrange(4)}):Reset request on FSS "
            f"handle {r.randrange(10 ** 6, 10 ** 8)} ({r.randrange(0, 40)} outstanding commands) from (vmm0:{r.choice(h.vms)})",
            None)


def f_sched(r, h, b):
    return ("vmk", "info", f"Sched: vm {w(r, b)}: 2065: Adding world 'vmm{r.randrange(4)}:{r.choice(h.vms)}', group "
            f"'host/user', cpu: shares=-3 min=0 minLimit=-1 max=-1, mem: shares=-3 min=0 minLimit=-1 max=-1",
            opid(r) if r.random() < 0.5 else None)


def f_heartbeat(r, h, b):
    return ("vmk", "warning", f"Heartbeat: 1099: PCPU {cpu(r, h)} didn't have a heartbeat for {r.randrange(7, 30)} seconds; "
            f"*may* be locked up.", None)


def f_apd(r, h, b):
    return ("vmk", "info", f"StorageApdHandler: 1062: Freeing APD handle 0x430{hexs(r, 9)} [{r.choice(h.naa)}]", None)


def f_http_timeout(r, h, b):
    ctx = base64.b64encode(r.randbytes(r.randrange(48, 90))).decode()
    return ("hostd", "info", "sub=Vimsvc.HTTPService.HttpConnection",
            f"HTTP Connection has timed out while waiting for further requests; <io_obj p:0x000000{hexs(r, 10)}, "
            f"h:{r.randrange(20, 90)}, <TCP '127.0.0.1 : 8307'>, <TCP '127.0.0.1 : {r.randrange(30000, 60000)}'>>, "
            f"N7Vmacore15SystemExceptionE(Connection timed out: The connection has been terminated)",
            [f"[context]{ctx}[/context]"])


def f_task(r, h, b):
    b.n += 1
    t = r.choice(TASKS)
    meta = f"sub=Vimsvc.TaskManager opID={opid(r)} sid={sid(r)} user=vpxuser:<no user>"
    if r.random() < 0.5:
        return ("hostd", "info", meta, f"Task Created : haTask--{t}-{r.randrange(10 ** 6, 10 ** 9)}", None)
    return ("hostd", "info", meta, f"Task Completed : haTask--{t}-{r.randrange(10 ** 6, 10 ** 9)} Status success", None)


def f_session(r, h, b):
    ip = r.choice(h.peers)
    k = r.random()
    if k < 0.4:
        return ("hostd", "info", f"sub=Vimsvc.HaSessionManager opID=esxui-{hexs(r, 4)}-{hexs(r, 4)} sid={sid(r)}",
                f"Accepted password for user root from {ip}", None)
    if k < 0.7:
        return ("hostd", "info", f"sub=Vimsvc.ha-eventmgr opID={opid(r)} sid={sid(r)} user=root",
                f"Event {r.randrange(100, 99999)} : User root@{ip} logged in as Mozilla/5.0 (Windows NT 10.0; Win64; x64)", None)
    return ("hostd", "info", f"sub=Vimsvc.HaSessionManager opID={opid(r)}",
            f"Session {uuid(r)} closed (idle {r.randrange(1, 3600)} s)", None)


def f_vmomi(r, h, b):
    m = r.choice(VMOMI_METHODS)
    meta = f"sub=Solo.Vmomi opID={opid(r)} sid={sid(r)} user=vpxuser:<no user>"
    if r.random() < 0.95:
        return ("hostd", "verbose", meta, f"Activation finished; <<{sid(r)}, <TCP '127.0.0.1 : 8307'>, "
                f"<TCP '127.0.0.1 : {r.randrange(30000, 60000)}'>>, ha-host, {m}", None)
    return ("hostd", "info", meta, f"Activation [N5Vmomi10ActivationE:0x000000{hexs(r, 10)}] : Invoke done [{m.split('.')[-1]}] "
            f"on [vim.HostSystem:ha-host]", ["Arg spec:", "(vmodl.query.PropertyCollector.FilterSpec) {",
                                            "   propSet = (vmodl.query.PropertyCollector.PropertySpec) [", "   ]", "}",
                                            "Throw vmodl.fault.ManagedObjectNotFound", "Result:",
                                            "(vmodl.fault.ManagedObjectNotFound) {", "   faultCause = (vmodl.MethodFault) null,",
                                            "   obj = 'vim.Task:haTask--" + r.choice(TASKS) + "-" + str(r.randrange(10 ** 6, 10 ** 9)) + "'",
                                            "   msg = \"\"", "}"])


def f_stats(r, h, b):
    if r.random() < 0.5:
        return ("hostd", "error", f"sub=VMkernelStatsProvider(000000{hexs(r, 10)})",
                f"GetKernelStatValues: Detected error while retrieving stats: VSINode({r.randrange(1000, 9999)}): "
                f"Not found (status=195887107)", None)
    return ("hostd", "warning", f"sub=deviceStatsProvider(000000{hexs(r, 10)})",
            f"FillVirtualDeviceStats: Unable to locate sample for stat ID {r.randrange(1, 40)}", None)


def f_iotracker(r, h, b):
    vm = r.choice(h.vms)
    return ("hostd", "warning", "sub=IoTracker", f"In thread {r.choice(b.hostd_tids)}, fopen(\"/vmfs/volumes/"
            f"{r.choice(h.ds)[1]}/{vm}/{vm}.vmx\") took over {r.randrange(15, 1500)} sec.", None)


def f_event(r, h, b):
    b.n += 1
    ev = r.choice(AUDIT_EVENTS)
    key = r.randrange(100, 99999)
    return ("hostd", "info", "sub=Vimsvc.ha-eventmgr", f"Event {key} : {ev.split('.')[-2].capitalize()} audit event on ha-host",
            ["(vim.event.EventEx) {", f"   key = {key},", "   chainId = 0,",
             f"   createdTime = \"1970-01-01T00:00:00Z\",", "   userName = \"\",", f"   eventTypeId = \"{ev}\",",
             "   objectId = \"ha-host\",", "   objectType = \"vim.HostSystem\",", "}"])


def f_vmsvc(r, h, b):
    vm = r.choice(h.vms)
    ds = r.choice(h.ds)[1]
    meta = f"sub=Vmsvc.vm:/vmfs/volumes/{ds}/{vm}/{vm}.vmx opID={opid(r)} sid={sid(r)} user=vpxuser:<no user>"
    if r.random() < 0.6:
        a, c = r.sample(VM_STATES, 2)
        return ("hostd", "info", meta, f"State Transition ({a} -> {c})", None)
    return ("hostd", "info", meta, "Send config update invoked", None)


def f_vsan_hostd(r, h, b):
    return ("hostd", "info", f"sub=Hostsvc.VsanSystemProvider opID={opid(r)}",
            f"Complete, nodeUuid: {r.choice(h.vsan_uuids)}, health: green, disks: {r.randrange(2, 12)} "
            f"({r.randrange(10, 900)} ms)", None)


def f_propprov(r, h, b):
    return ("hostd", "verbose", f"sub=PropertyProvider opID={opid(r)} sid={sid(r)} user=vpxuser:<no user>",
            f"RecordOp ASSIGN: info, haTask--{r.choice(TASKS)}-{r.randrange(10 ** 6, 10 ** 9)}. Applied change to temp map.",
            None)


def f_ssl(r, h, b):
    return ("hostd", "warning", "sub=Libs", f"SSL Handshake on client connection failed: SSL Exception: "
            f"error:14094412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate; peer {r.choice(h.peers)}:"
            f"{r.randrange(30000, 60000)}", None)


def f_vpxa_lro(r, h, b):
    n = r.randrange(1, 999999)
    meta = f"sub=vpxLro opID=PollQuickStatsLoop-{hexs(r, 8)}-{hexs(r, 2)}"
    if r.random() < 0.5:
        return ("vpxa", "info", meta, f"[VpxLRO] -- BEGIN lro-{n} -- vpxa -- vpxapi.VpxaService.fetchQuickStats -- {uuid(r)}", None)
    return ("vpxa", "info", meta, f"[VpxLRO] -- FINISH lro-{n}", None)


def f_vpxa_hb(r, h, b):
    if r.random() < 0.5:
        return ("vpxa", "verbose", f"sub=vpxaHalCnxHostagent opID=WFU-{hexs(r, 8)}",
                f"[WaitForUpdatesDone] Received callback; version {r.randrange(1, 10 ** 6)}", None)
    return ("vpxa", "info", f"sub=vpxaInvtHost opID=WFU-{hexs(r, 8)}",
            f"[VpxaInvtHost] Sending heartbeat to vCenter {h.vc_ip} (generation {r.randrange(1, 10 ** 5)})", None)


def f_vobd(r, h, b):
    us = r.randrange(10 ** 12, 10 ** 13)
    k = r.random()
    if k < 0.4:
        return ("vobd", f"[UserLevelCorrelator] {us}us: [vob.user.ssh.session.opened] SSH session was opened for "
                f"'root@{r.choice(h.peers)}'.")
    if k < 0.7:
        n = r.choice(h.nics)
        return ("vobd", f"[netCorrelator] {us}us: [vob.net.vmnic.linkstate.up] vmnic {n} linkstate up")
    return ("vobd", f"[UserLevelCorrelator] {us}us: [vob.user.ssh.session.closed] SSH session was closed for "
            f"'root@{r.choice(h.peers)}'.")


# (family, weight) -- weights are per pool slot; vmkernel ~55 %, hostd ~37 %, vpxa ~8 %
FAMILIES = [
    (f_scsi_failed, 9), (f_nmp_throttle, 8), (f_nmp_reset, 3), (f_scsi_perf, 2), (f_uplink, 6),
    (f_entropy, 3), (f_mca, 0.5), (f_vmotion, 4), (f_hbx, 1.5), (f_vsan, 7), (f_fss, 2),
    (f_vscsi, 2), (f_sched, 4), (f_heartbeat, 0.3), (f_apd, 0.7),
    (f_http_timeout, 4), (f_task, 8), (f_session, 3), (f_vmomi, 9), (f_stats, 6), (f_iotracker, 0.6),
    (f_event, 0.3), (f_vmsvc, 3), (f_vsan_hostd, 1.5), (f_propprov, 3), (f_ssl, 0.5),
    (f_vpxa_lro, 5), (f_vpxa_hb, 3),
]


FAMILY_NAMES = {f.__name__[2:]: f for f, _ in FAMILIES}      # "scsi_failed" -> f_scsi_failed

# Corpus mixes (--mix): how often hosts boot, how much each boot writes, which noise
# families fill the rest, how many hosts' ids take turns.  Speed must hold on logs the
# harness was not tuned on (issue 21), so run.py --mix measures several.  Every line
# family is one the generator already has; a mix only changes the shares.
#   boots_per_gib   boots per GiB of corpus (at least 12 in any corpus)
#   boot_modules    module loads per boot (4 lines each; at most len(MODULES))
#   boot_plugins    jumpstart plugins per boot (2 lines each; at most len(JUMPSTART))
#   boot_rate       vmkernel/hostd noise records per second while a boot runs
#   incidents       failing boots at most (spread evenly; None: every other boot)
#   hosts           host inventories (disks, NICs, VMs, IPs) the boots take turns with
#   weights         family name -> weight, over FAMILIES' own
MIXES = {
    "default": {},
    # many short boots with every module and plugin: ~13 % of lines are boot lines
    # (Jumpstart plugin ... activated, Loading module ..., Mod: ... succeeded ...)
    "boot-heavy": {"boots_per_gib": 4096, "boot_modules": len(MODULES), "boot_plugins": len(JUMPSTART),
                   "boot_rate": 2.0, "incidents": 64, "hosts": 4},
    # a storage-troubled host: SCSI/NMP/vSAN/VMFS dominate, little hostd
    "storage": {"boots_per_gib": 64, "hosts": 2,
                "weights": {"scsi_failed": 30, "nmp_throttle": 20, "nmp_reset": 10, "scsi_perf": 8, "hbx": 6,
                            "vsan": 20, "apd": 3, "task": 2, "vmomi": 2, "stats": 1, "vpxa_lro": 1}},
    # a busy management plane: hostd sessions/tasks/vmomi and vpxa fill most lines
    "mgmt": {"boots_per_gib": 256, "hosts": 8,
             "weights": {"http_timeout": 10, "task": 20, "session": 10, "vmomi": 25, "stats": 12, "vmsvc": 8,
                         "propprov": 8, "vpxa_lro": 12, "vpxa_hb": 8, "scsi_failed": 2, "uplink": 2}},
}
MIX_KEYS = {"boots_per_gib", "boot_modules", "boot_plugins", "boot_rate", "incidents", "hosts", "weights"}


def parse_mix(text: str) -> dict:
    """A preset name, optionally followed by overrides: 'boot-heavy,hosts=2,vsan=40'
    (a family name sets its weight)."""
    name, *rest = text.split(",")
    if name not in MIXES:
        raise argparse.ArgumentTypeError(f"unknown mix {name!r} (known: {', '.join(MIXES)})")
    mix = dict(MIXES[name], name=text)
    mix["weights"] = dict(mix.get("weights", {}))
    for item in rest:
        key, _, val = item.partition("=")
        try:
            num = float(val)
        except ValueError:
            raise argparse.ArgumentTypeError(f"mix {text!r}: {item!r} is not KEY=NUMBER")
        if key in FAMILY_NAMES:
            mix["weights"][key] = num
        elif key in MIX_KEYS - {"weights"}:
            mix[key] = num if key == "boot_rate" else int(num)
        else:
            raise argparse.ArgumentTypeError(f"mix {text!r}: unknown key {key!r} (mix keys: "
                                             f"{', '.join(sorted(MIX_KEYS - {'weights'}))}; or a family: "
                                             f"{', '.join(FAMILY_NAMES)})")
    return mix


def family_weights(mix: dict | None):
    """FAMILIES' weights with the mix's overrides."""
    over = (mix or {}).get("weights", {})
    return [over.get(f.__name__[2:], x) for f, x in FAMILIES]


class Pool:
    """Pre-rendered noise records (text after the timestamp) plus per-record bookkeeping."""

    def __init__(self, r, host, boot, fmt, size, with_vobd=False, weights=None):
        fams = [f for f, _ in FAMILIES]
        weights = list(weights) if weights else [x for _, x in FAMILIES]
        if with_vobd:
            fams.append(f_vobd)
            weights.append(0.6)
        self.text, self.extra, self.tpm, self.src, self.warn, self.multi = [], [], [], [], [], []
        for fam in r.choices(fams, weights=weights, k=size):
            rec = fam(r, host, boot)
            kind = rec[0]
            warn = False
            if kind == "vmk":
                _, sev, msg, op = rec
                text = fmt.vmk(cpu(r, host), w(r, boot), msg, sev, op)
                src, warn = "vmkernel", sev != "info"
            elif kind == "vmk2":        # vmkernel record + a second vmkernel line, same world
                _, c, world, m1, m2 = rec
                text = fmt.vmk(c, world, m1) + "\n\x01" + fmt.vmk(c, world, m2)
                src = "vmkernel"
            elif kind in ("hostd", "vpxa"):
                _, level, meta, msg, cont = rec
                tid = r.choice(boot.hostd_tids if kind == "hostd" else boot.vpxa_tids)
                text = fmt.proc(kind, level, tid, meta, msg, cont or ())
                src = kind
            else:
                text = fmt.vobd(rec[1], boot.vobd_tid)
                src = "vobd"
            self.text.append(text)
            nl = text.count("\n")
            self.extra.append(nl)
            self.multi.append("\x01" in text)
            self.tpm.append(sum(1 for ln in text.split("\n") if "tpm" in ln.lower()))
            self.src.append(src)
            self.warn.append(warn)
        self.range = range(size)
        self.vmk_only = [i for i, s in enumerate(self.src) if s == "vmkernel"] or list(self.range)
        self.avg = sum(len(t) + 25 + 26 * e for t, e in zip(self.text, self.extra)) / size   # bytes per record


# ---------------------------------------------------------------------------------------
# Boot scripts.  Item = (rel_ms, source, text_after_ts, role, sec_only)
#   role: "noise" (boot noise), "tpm" (benign TPM line), "ctx" (TPM line that belongs to the
#   incident but is not a failure), "fail" (injected failure line).
# ---------------------------------------------------------------------------------------

class Script:
    def __init__(self, fmt, host, boot, r):
        self.fmt, self.host, self.boot, self.r = fmt, host, boot, r
        self.items = []

    def vmk(self, t, msg, role="noise", sev="info", world=None, c=None):
        b = self.boot
        self.items.append((t, "vmkernel", self.fmt.vmk(c if c is not None else 0, world or b.boot_world, msg, sev),
                           role, False))

    def vmb(self, t, msg, role="noise"):
        self.items.append((t, "vmkernel", self.fmt.vmk_early(msg), role, True))

    def hostd(self, t, level, sub, msg, role="tpm"):
        self.items.append((t, "hostd", self.fmt.proc("hostd", level, self.boot.hostd_main, f"sub={sub}", msg), role, False))


def boot_script(fmt: Fmt, host: Host, boot: Boot, outcome: str, r: random.Random, healthy_style: int,
                modules: int = 12, plugins: int = 6):
    """The lines one boot writes, as (rel_ms, src, text, role, sec_only), sorted by time."""
    s = Script(fmt, host, boot, r)
    v8 = fmt.version == 8
    t = 0
    # --- early boot ------------------------------------------------------------------
    if v8:
        s.vmb(t, f"VMB: 65: Reserved {r.choice([4, 8])} MPNs starting @ 0x{r.randrange(0x400, 0x900):x}")
        s.vmb(t, f"VMB: 3196: Bootstrap cpu is {0}, node {0}")
        if outcome == "tpm_interface_crb_unsupported":
            # williamlam.com 2022-10 (verbatim)
            s.vmb(t, "VMB_TPM: 99: Unsupported 'startMethod': 7", "fail")
            s.vmb(t, "VMB_TPM: 227: Unable to determine TPM IO area base address.", "fail")
        t += 1000 + r.randrange(2000)
        s.vmb(t, f"VMB: 1180: Bootstrap complete, {host.ncpu} PCPUs")
    t += 2000 + r.randrange(3000)
    c0 = 0
    s.vmk(t, "Boot Successful", c=c0)
    # --- module loading (boot noise) ----------------------------------------------------
    mods = r.sample(MODULES, min(modules, len(MODULES)))
    tpm_at = r.randrange(4, 9) if len(mods) > 8 else r.randrange(len(mods))          # tpmdriver loads in the middle of the driver list
    mod_id = r.randrange(3, 20)
    for i, mod in enumerate(mods):
        t += r.randrange(2, 40)
        world = boot.boot_world
        if i == tpm_at:
            t = tpm_driver_lines(s, t, outcome, r, boot, world)
            continue
        s.vmk(t, f"Loading module {mod} ...", world=world)
        t += r.randrange(1, 5)
        s.vmk(t, f"Elf: 2060: module {mod} has license VMware", world=world)
        t += r.randrange(1, 5)
        s.vmk(t, f"Device: {211 if not v8 else 193}: Registered driver '{mod}' from {mod_id + i}", world=world)
        t += r.randrange(1, 30)
        s.vmk(t, f"Mod: 4845: Initialization of {mod} succeeded with module ID {mod_id + i}.", world=world)
    # --- jumpstart plugins ----------------------------------------------------------------
    for p in r.sample(JUMPSTART, min(plugins, len(JUMPSTART))):
        t += r.randrange(10, 400)
        js_world = r.choice(boot.worlds)
        s.vmk(t, f"Activating Jumpstart plugin {p}.", world=js_world, c=r.randrange(host.ncpu))
        t += r.randrange(5, 300)
        s.vmk(t, f"Jumpstart plugin {p} activated.", world=js_world, c=r.randrange(host.ncpu))
    if v8:
        js_world = r.choice(boot.worlds)
        if outcome in ("tpmdriver_load_failure", "pcr_bank_sha1_only"):
            t += r.randrange(5, 50)
            # Dasharo #1231 (verbatim)
            s.vmk(t, "Jumpstart plugin tpm activation failed.", "fail", sev="alert", world=js_world, c=1)
        elif outcome != "tpm_interface_crb_unsupported":
            # by analogy with K12 (I)
            t += r.randrange(5, 50)
            s.vmk(t, "Activating Jumpstart plugin tpm.", "tpm", world=js_world, c=1)
            t += r.randrange(5, 50)
            s.vmk(t, "Jumpstart plugin tpm activated.", "tpm", world=js_world, c=1)
            t += r.randrange(5, 50)
            s.vmk(t, "Activating Jumpstart plugin tpm-eventlog.", "tpm", world=js_world, c=1)   # K12
            t += r.randrange(5, 50)
            s.vmk(t, "Jumpstart plugin tpm-eventlog activated.", "tpm", world=js_world, c=1)   # K12
    # --- hostd start (~20-30 s later) ------------------------------------------------------
    t += 18000 + r.randrange(12000)
    hostd_tpm_lines(s, t, outcome, r, boot, healthy_style)
    s.items.sort(key=lambda it: it[0])
    return s.items


def tpm_driver_lines(s: Script, t: int, outcome: str, r, boot: Boot, world: int) -> int:
    """vmkernel tpmdriver load/init; verbatim texts from the seed thread, KB 323610, Dasharo #1231."""
    v8 = s.fmt.version == 8
    vendor = "IFX" if outcome == "tpm_firmware_outdated" else s.host.tpm_vendor
    if outcome == "tpm_interface_crb_unsupported":
        return t        # no TIS/FIFO interface: the driver never gets this far (I)
    if v8:
        s.vmk(t, "VisorFSTar: 2610: tpm.v00 for 0x601c bytes", "tpm", world=world)     # K15
        t += r.randrange(1, 20)
    s.vmk(t, "Loading module tpmdriver ...", "tpm", world=world)
    if outcome == "tpmdriver_load_failure":
        if v8:      # Dasharo #1231 + K10
            t += 1
            s.vmk(t, "Device: 193: Registered driver 'tpmdriver' from 10", "ctx", world=world)
            t += 4
            s.vmk(t, "Device: 250: Unregistered driver 'tpmdriver' from 10", "ctx", world=world)
            t += 1
            s.vmk(t, "Elf: 3284: Kernel based module load of tpmdriver failed: Failure <Mod_LoadDone failed>",
                  "fail", sev="warning", world=world)
            t += 1
            s.vmk(t, "tpmdriver failed to load.", "fail", world=world)
        else:       # KB 323610
            t += r.randrange(1, 5)
            s.vmk(t, "Elf: 3110: Kernel-based module load of tpmdriver failed: Failure <Mod_LoadDone failed>",
                  "fail", sev="warning", world=world)
        return t + r.randrange(1, 10)
    t += r.randrange(0, 2)
    s.vmk(t, "Elf: 2060: module tpmdriver has license VMware", "tpm", world=world)
    t += r.randrange(1, 3)
    s.vmk(t, "Device: 211: Registered driver 'tpmdriver' from 3" if not v8 else
          "Device: 193: Registered driver 'tpmdriver' from 10", "tpm", world=world)
    t += r.randrange(1, 3)
    s.vmk(t, "VMK_ACPI: 90: \\_SB_.TPM_: numRes 0 phys_addr 0xfed40000 size 0x5000", "tpm", world=world)
    if outcome == "pcr_bank_sha1_only":      # KB 323610 (verbatim), same world, same ms
        t += r.randrange(5, 70)
        s.vmk(t, "tpmDriver: TpmDriverInitImpl:307: TPM 2 SHA-256 PCR bank not found to be active.", "fail",
              sev="warning", world=world)
        s.vmk(t, "tpmDriver: TPMDriverAttachDevice:216: \\_SB_.TPM_: couldn't perform TIS init", "fail",
              sev="warning", world=world)
        t += 1
        if v8:
            s.vmk(t, "Elf: 3284: Kernel based module load of tpmdriver failed: Failure <Mod_LoadDone failed>", "fail",
                  sev="warning", world=world)
        else:
            s.vmk(t, "Elf: 3110: Kernel-based module load of tpmdriver failed: Failure <Mod_LoadDone failed>", "fail",
                  sev="warning", world=world)
        return t + r.randrange(1, 10)
    s.vmk(t, "tpmDriver: Tpm2Init:1859: Activated locality 0", "tpm", world=world)
    if outcome == "tpm_firmware_outdated":   # seed thread (verbatim); correlation only -> ctx
        s.vmk(t, "tpmDriver: Tpm2CheckInterface:618: TPM does not appear to be speaking the 2.0 protocol "
                 "(interfaceType = 0xf).", "ctx", world=world)
        s.vmk(t, "tpmDriver: Tpm2CheckInterface:619: Continuing on best effort basis using the 2.0 protocol.", "ctx",
              world=world)
    t += 60 + r.randrange(30)
    s.vmk(t, "tpmDriver: Tpm2Init:1881: Initialization of TPM 2 impl done.", "tpm", world=world)
    t += 15 + r.randrange(10)
    s.vmk(t, f"tpmDriver: Tpm2LogVendor:1828: Vendor ID: {vendor}", "tpm", world=world)
    t += 35 + r.randrange(20)
    s.vmk(t, "tpmDriver: Tpm2ResMgr_Init:1532: TPM 2.0 Resource manager initialized.", "tpm", world=world)
    return t + r.randrange(1, 10)


# KB 436517 masks the source line numbers (###); these are plausible stand-ins (I).
COMM_FAIL = ["tpmDriver: TpmWrite:{a}: still expects data after 12 bytes transfered",
             "tpmDriver: Tpm_Transmit:{b}: Send to TPM failed: Failure (0xbad0001)",
             "tpmDriver: Tpm2ResMgr_Transmit:{c}: Error: Tpm_Transmit failed"]


def hostd_tpm_lines(s: Script, t: int, outcome: str, r, boot: Boot, style: int):
    s.hostd(t, "info", "Hostsvc.HostTpmManager", "Creating HostTPMManager...")
    t += 8
    s.hostd(t, "info", "Hostsvc.TechPreviewConfigProvider",
            "No Tech Preview features found in: /etc/vmware/vsphereFeatures/techPreview.cfg", "noise")
    if outcome in ("tpm_interface_crb_unsupported", "tpmdriver_load_failure", "pcr_bank_sha1_only"):
        t += r.randrange(20, 200)
        s.hostd(t, "info", "Hostsvc", "Plugin initialized", "noise")
        return
    s.hostd(t, "info", "Hostsvc.TpmEventLogProvider", "TpmEventLogProvider created")
    if outcome == "tpm_communication_failure":
        # KB 436517 (verbatim texts): transmit failures while hostd talks to the TPM
        a, b, c = r.choice([(412, 571, 1392), (418, 577, 1398), (433, 590, 1415)])
        wld = r.choice(boot.worlds)
        for _ in range(r.randrange(2, 5)):
            t += r.randrange(20, 400)
            for j, line in enumerate(COMM_FAIL):
                s.vmk(t + j, line.format(a=a, b=b, c=c), "fail", world=wld, c=r.randrange(s.host.ncpu))
        t += r.randrange(20, 200)
        s.hostd(t, "info", "Hostsvc", "Plugin initialized", "noise")
        return
    if outcome == "tpm_firmware_outdated":
        # seed thread, hostd.log before the RMA (verbatim, timings as in the post)
        t += 31
        s.hostd(t, "error", "Libs", "Tpm2Cmd: DictionaryAttackLockReset: (0x921) TPM_RC_LOCKOUT", "fail")
        s.hostd(t, "info", "Libs", "Tpm2Cmd: Unable to reset the dictionary attack counter", "fail")
        t += 36
        s.hostd(t, "info", "Libs", "Tpm2Cmd: Preprovisioned endorsement key not found at 0x81010001", "ctx")
        t += 36
        s.hostd(t, "error", "Libs", "Tpm2Cmd: NV_ReadPublic: (0x18b) Unknown", "ctx")
        s.hostd(t, "info", "Libs", "Tpm2Cmd: Vendor provided RSA endorsement key template is not present in NV memory. "
                                   "Using default template per TGC spec", "ctx")
        t += 40
        s.hostd(t, "error", "Libs", "Tpm2Cmd: NV_ReadPublic: (0x18b) Unknown", "ctx")
        t += 17
        s.hostd(t, "error", "Libs", "Tpm2Cmd: CreatePrimary: (0x9a2) Unknown", "fail")
        s.hostd(t, "error", "Hostsvc.Tpm20Provider", "Unable to provision default rsa endorsement key.", "fail")
        return
    if outcome == "ek_certificate_unsupported":
        # KB 334591 (verbatim)
        sub = "Hostsvc.Tpm20Provider"
        t += r.randrange(5, 40)
        s.hostd(t, "info", sub, "Tpm20Provider created.", "ctx")
        t += r.randrange(5, 40)
        s.hostd(t, "info", sub, "Preprovisioned endorsement key not found at 0x81010001", "ctx")
        t += r.randrange(5, 40)
        s.hostd(t, "error", sub, "NV_ReadPublic: (0x18b) Unknown", "ctx")
        s.hostd(t, "info", sub, "Vendor provided RSA endorsement key template is not present in NV memory. "
                                "Using default template per TGC spec.", "ctx")
        t += r.randrange(5, 40)
        s.hostd(t, "info", sub, "Could not extract X509 public key.", "fail")
        t += r.randrange(1, 10)
        s.hostd(t, "error", sub, "Unable to provision default rsa endorsement key.", "fail")
        return
    healthy_hostd_chain(s, t, r, style)


def healthy_hostd_chain(s: Script, t: int, r, style: int):
    """EK provisioning that works; the (0x18b) errors are benign (seed thread after the RMA)."""
    if style == 0:      # seed thread after the RMA (verbatim), sub=Libs / Tpm2Cmd:
        t += 67
        s.hostd(t, "info", "Libs", "Tpm2Cmd: Preprovisioned endorsement key not found at 0x81010001")
        t += 36
        s.hostd(t, "error", "Libs", "Tpm2Cmd: NV_ReadPublic: (0x18b) Unknown")
        s.hostd(t, "info", "Libs", "Tpm2Cmd: Vendor provided RSA endorsement key template is not present in NV memory. "
                                   "Using default template per TGC spec")
        t += 40
        s.hostd(t, "error", "Libs", "Tpm2Cmd: NV_ReadPublic: (0x18b) Unknown")
        t += 17
        s.hostd(t, "info", "Libs", "Tpm2Cmd: Successfully provisioned endorsement key at: 0x81010001")
    else:               # KB 334591 shape (sub=Hostsvc.Tpm20Provider), ending in the success line
        sub = "Hostsvc.Tpm20Provider"
        t += r.randrange(5, 40)
        s.hostd(t, "info", sub, "Tpm20Provider created.")
        t += r.randrange(5, 40)
        s.hostd(t, "info", sub, "Preprovisioned endorsement key not found at 0x81010001")
        t += r.randrange(5, 40)
        s.hostd(t, "error", sub, "NV_ReadPublic: (0x18b) Unknown")
        s.hostd(t, "info", sub, "Vendor provided RSA endorsement key template is not present in NV memory. "
                                "Using default template per TGC spec.")
        t += r.randrange(20, 60)
        s.hostd(t, "info", sub, "Successfully provisioned endorsement key at: 0x81010001")
    t += r.randrange(1, 20)
    s.hostd(t, "info", "Hostsvc", "Plugin initialized", "noise")


def hostd_restart_script(fmt, host, boot, r, style):
    """A hostd restart in a healthy window: benign TPM provider lines (decoys)."""
    s = Script(fmt, host, boot, r)
    t = 0
    s.hostd(t, "info", "Hostsvc.HostTpmManager", "Creating HostTPMManager...")
    s.hostd(t + 8, "info", "Hostsvc.TpmEventLogProvider", "TpmEventLogProvider created")
    healthy_hostd_chain(s, t + 8, r, style)
    s.items.sort(key=lambda it: it[0])
    return s.items


# ---------------------------------------------------------------------------------------
# Sinks: where lines go.  CorpusSink writes one file; gen_bundles.py has its own sink.
# ---------------------------------------------------------------------------------------

class CorpusSink:
    """One output file (+ optional concurrent gzip).  Tracks lines, bytes, TPM lines."""

    def __init__(self, path: str, gzip_path: str | None = None, gzip_level: int = 6):
        self.f = open(path, "wb")
        self.gz = None
        if gzip_path:
            self.gz_out = open(gzip_path, "wb")
            self.gz = subprocess.Popen(["gzip", "-%d" % gzip_level, "-c", "-n"], stdin=subprocess.PIPE, stdout=self.gz_out)
        self.lines = 0
        self.bytes = 0
        self.tpm_lines = 0
        self.buf = []
        self.buf_bytes = 0

    def noise(self, out, idxs, pool):
        n = len(out)
        extra, tpm = pool.extra, pool.tpm
        nl = n
        for k, cnt in collections.Counter(idxs).items():
            if extra[k]:
                nl += extra[k] * cnt
            if tpm[k]:
                self.tpm_lines += tpm[k] * cnt
        self.lines += nl
        nb = sum(map(len, out)) + n
        self.bytes += nb
        self.buf.extend(out)
        self.buf_bytes += nb
        if self.buf_bytes >= (8 << 20):
            self.flush()

    def line(self, text, src, role, warn=False):
        """One single physical line; returns its 1-based line number."""
        self.lines += 1
        self.bytes += len(text) + 1
        if "tpm" in text.lower():
            self.tpm_lines += 1
        self.buf.append(text)
        self.buf_bytes += len(text) + 1
        return self.lines

    def flush(self):
        if not self.buf:
            return
        data = ("\n".join(self.buf) + "\n").encode("ascii")
        self.f.write(data)
        if self.gz:
            self.gz.stdin.write(data)
        self.buf = []
        self.buf_bytes = 0

    def close(self):
        self.flush()
        self.f.close()
        if self.gz:
            self.gz.stdin.close()
            rc = self.gz.wait()
            self.gz_out.close()
            if rc:
                raise RuntimeError(f"gzip exited with {rc}")


# ---------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------

class Engine:
    POOL = 6144            # records per pool
    REFRESH = 160_000      # noise records between pool rebuilds
    BLOCK = 32_768         # noise records per assembly block

    def __init__(self, r: random.Random, host: Host, sink, t0_ms: int, mean_gap_ms: float = 40.0, with_vobd=False,
                 weights=None):
        self.r, self.host, self.sink = r, host, sink
        self.weights = weights
        self.pool_size = self.POOL      # smaller when boots (each a new pool) come often
        self.t = t0_ms
        self.clock = Clock()
        self.with_vobd = with_vobd
        # inter-record gaps in ms (exponential, integer; zeros are fine: equal timestamps)
        self.dt = [int(r.expovariate(1.0 / mean_gap_ms)) for _ in range(4096)]
        self.fmt = None
        self.boot = None
        self.pool = None
        self.since_refresh = 0

    def set_boot(self, version: int):
        self.fmt = Fmt(version)
        self.boot = Boot(self.r, self.host, version)
        self.refresh()

    def refresh(self):
        self.pool = Pool(self.r, self.host, self.boot, self.fmt, self.pool_size, self.with_vobd, self.weights)
        self.since_refresh = 0

    def _assemble(self, times, idxs):
        texts, multi = self.pool.text, self.pool.multi
        frac = FRAC
        clock = self.clock
        sec, pre = clock.sec, clock.pre
        out = []
        app = out.append
        for t, k in zip(times, idxs):
            s = t // 1000
            if s != sec:
                pre = clock.prefix(s)
                sec = s
            line = pre + frac[t - s * 1000] + texts[k]
            if multi[k]:
                line = line.replace("\x01", line[:24])
            app(line)
        return out

    def noise(self, n: int, limit_bytes: int | None = None):
        """n noise records at the running clock; with limit_bytes, cut so the sink stays <= it."""
        if self.since_refresh >= self.REFRESH:
            self.refresh()
        r = self.r
        idxs = r.choices(self.pool.range, k=n)
        t = self.t
        times = []
        app = times.append
        for d in r.choices(self.dt, k=n):
            t += d
            app(t)
        out = self._assemble(times, idxs)
        if limit_bytes is not None:
            room = limit_bytes - self.sink.bytes
            keep = 0
            for line in out:
                room -= len(line) + 1
                if room < 0:
                    break
                keep += 1
            out, idxs, times = out[:keep], idxs[:keep], times[:keep]
        if out:
            self.t = times[-1]
        self.sink.noise(out, idxs, self.pool)
        self.since_refresh += len(out)
        return len(out)

    def noise_between(self, t_end: int, rate_per_s: float, vmk_only: bool = False):
        """Noise records with timestamps spread over (self.t, t_end); vmk_only: vmkernel
        records only (a booting host before hostd and vpxa are up)."""
        span = t_end - self.t
        if span <= 1:
            return
        n = int(span / 1000.0 * rate_per_s * (0.5 + self.r.random()))
        if n <= 0:
            return
        r = self.r
        times = sorted(r.randrange(self.t + 1, t_end) for _ in range(n))
        idxs = r.choices(self.pool.vmk_only if vmk_only else self.pool.range, k=n)
        out = self._assemble(times, idxs)
        self.t = times[-1]
        self.sink.noise(out, idxs, self.pool)

    def scripted(self, items, t_start: int, rate_per_s: float, boot: bool = False):
        """Emit a script (boot or hostd restart) starting at t_start, with noise in between
        (a boot: vmkernel noise only until its first hostd line).
        Returns [(line_no, role, src, text)] for the script lines."""
        placed = []
        hostd_up = not boot
        for rel, src, text, role, sec_only in items:
            ts = t_start + rel
            self.noise_between(ts, rate_per_s, vmk_only=not hostd_up)
            if src == "hostd":
                hostd_up = True
            ts = max(ts, self.t)
            self.t = ts
            stamp = self.clock.sec_only(ts) if sec_only else self.clock.ms(ts)
            full = stamp + text
            ln = self.sink.line(full, src, role, warn=(")WARNING: " in text or ")ALERT: " in text))
            placed.append((ln, role, src, full))
        return placed


# ---------------------------------------------------------------------------------------
# Corpus plan and main
# ---------------------------------------------------------------------------------------

def plan_boots(r: random.Random, size: int, fmt: str, n_boots: int | None, boots_per_gib: int = 128,
               room: int = 256 << 10, incidents: int | None = None):
    """Boot byte offsets, ESXi version and outcome per boot.  room: bytes a boot needs."""
    if n_boots is None:
        n_boots = max(12, size * boots_per_gib // (1 << 30))
        n_boots = max(1, min(n_boots, size // (2 * room)))
    elif n_boots > size // (room + (64 << 10)):
        print(f"gen_corpus: warning: --boots {n_boots} does not fit in {size} bytes (a boot needs "
              f"~{(room + (64 << 10)) >> 10} KiB); using {size // (room + (64 << 10))}", file=sys.stderr)
        n_boots = size // (room + (64 << 10))
    offs = []
    for i in range(n_boots):
        jitter = (r.random() - 0.5) * 0.5
        offs.append(int(size * (i + 0.5 + jitter) / (n_boots + 0.5)))
    offs.sort()
    versions = []
    for off in offs:
        if fmt == "7":
            versions.append(7)
        elif fmt == "8":
            versions.append(8)
        else:                               # mixed: an upgrade 7 -> 8 half way through
            versions.append(7 if off < size // 2 else 8)
    # every other boot fails (boot 1, 3, 5 ...); causes are dealt in a shuffled order so that
    # every cause appears before any repeats.
    order = list(CAUSES)
    r.shuffle(order)
    unused = set(order)
    outcomes = []
    if incidents is None:
        failing = set(range(1, len(versions), 2))      # every other boot
    else:                                               # spread evenly, the last boot healthy
        step = len(versions) / max(1, incidents)
        failing = {int(k * step + step / 2) for k in range(incidents)} & set(range(len(versions) - 1))
    for i, v in enumerate(versions):
        if i not in failing:
            outcomes.append("healthy")
            continue
        cands = [c for c in order if v in CAUSES[c] and c in unused]
        if not cands:
            unused = set(order)
            cands = [c for c in order if v in CAUSES[c]]
        # causes that only one version can show go first, so a mixed corpus covers all
        cands.sort(key=lambda c: len(CAUSES[c]))
        outcomes.append(cands[0])
        unused.discard(cands[0])
    return offs, versions, outcomes


BOOT_ROOM = 256 << 10       # bytes a boot needs before the end of the corpus


def drive(eng: Engine, host: Host, sink, size: int, plan: list, r: random.Random,
          restarts: bool = True, boot_rate: float = 20.0, boot_room: int = BOOT_ROOM,
          modules: int = 12, plugins: int = 6):
    """Write noise until sink.bytes reaches `size`, running each planned boot when the sink
    passes its byte offset.  plan = [{"offset", "esxi", "outcome", "style"}] sorted by offset.
    Returns (boots, n_hostd_restarts); each boot dict carries "placed" =
    [(line_ref, role, src, text)] for its script lines (line_ref is whatever sink.line returns)."""
    boots = []
    n_restarts = 0
    i = 0
    restart_at = None
    while sink.bytes < size:
        target = plan[i]["offset"] if i < len(plan) else size
        if restart_at is not None and restart_at < target:
            target = restart_at
        if sink.bytes >= target and not (i >= len(plan) and restart_at is None):
            if restart_at is not None and target == restart_at:
                items = hostd_restart_script(eng.fmt, host, eng.boot, r, r.choice((0, 1)))
                eng.scripted(items, eng.t + r.randrange(1000, 30000), boot_rate)
                n_restarts += 1
                restart_at = None
                continue
            p = plan[i]
            if size - sink.bytes < boot_room:
                # a boot writes ~100-200 KB (its lines plus the noise around them): never let
                # one run past the requested size
                break
            eng.t += r.randrange(180_000, 480_000)        # host down for 3-8 minutes
            host = eng.host = p.get("host", host)         # with --mix hosts=N they take turns
            eng.set_boot(p["esxi"])
            items = boot_script(eng.fmt, host, eng.boot, p["outcome"], r, p.get("style", 0), modules, plugins)
            placed = eng.scripted(items, eng.t, boot_rate, boot=True)
            boots.append({"boot": i, "esxi": p["esxi"], "outcome": p["outcome"], "host": host.name,
                          "placed": placed})
            if restarts and p["outcome"] == "healthy" and r.random() < 0.3:
                nxt = plan[i + 1]["offset"] if i + 1 < len(plan) else size
                restart_at = sink.bytes + int((nxt - sink.bytes) * (0.2 + 0.6 * r.random()))
            i += 1
            continue
        remaining = target - sink.bytes
        n = int(remaining / eng.pool.avg) + 1
        if target == size and n <= Engine.BLOCK:
            eng.noise(n + 64, limit_bytes=size)
            if sink.bytes >= size - 400:          # within a line of the requested size
                break
            continue
        eng.noise(max(1, min(Engine.BLOCK, n)))
    if len(boots) < len(plan):
        print(f"gen_corpus: warning: only {len(boots)} of {len(plan)} boots fit", file=sys.stderr)
    return boots, n_restarts


def generate(args) -> dict:
    r = random.Random(args.seed)
    size = args.size
    mix = args.mix or MIXES["default"]
    host = Host(r, args.host or f"esxi-{r.choice(['fra', 'ams', 'dal', 'sjc', 'lon'])}-{r.randrange(1, 200):03d}.corp.example")
    # more hosts: more ids (disks, VMs, IPs) in the noise; the lines carry no host name, so
    # tpmdiag reads one stream, as from a collector's file of one cluster
    hosts = [host] + [Host(r, f"{host.name.split('.')[0]}-{k}.corp.example") for k in range(1, mix.get("hosts", 1))]
    boot_rate = mix.get("boot_rate", 20.0)
    room = max(64 << 10, int(BOOT_ROOM * min(1.0, boot_rate / 20.0)))
    offs, versions, outcomes = plan_boots(r, size, args.format, args.boots, mix.get("boots_per_gib", 128), room,
                                          mix.get("incidents"))
    plan = [{"offset": o, "esxi": v, "outcome": c, "style": r.choice((0, 1))}
            for o, v, c in zip(offs, versions, outcomes)]
    if len(hosts) > 1:
        for i, p in enumerate(plan):
            p["host"] = hosts[i % len(hosts)]
    gz_path = (args.out + ".gz") if args.gzip else None
    sink = CorpusSink(args.out, gz_path)
    t0 = calendar.timegm((2023, 1, 1, 0, 0, 0)) * 1000 + r.randrange(0, 300 * 86400) * 1000
    eng = Engine(r, host, sink, t0, weights=family_weights(mix) if mix.get("weights") else None)
    if mix.get("boots_per_gib", 128) > 128:
        # each boot renders a new pool: half the records between boots is variety enough
        eng.pool_size = max(256, min(Engine.POOL, size // max(1, len(offs)) // 380))
    eng.set_boot(versions[0] if versions else (8 if args.format == "8" else 7))
    t_start = time.time()
    boots, decoy_restarts = drive(eng, host, sink, size, plan, r, boot_rate=boot_rate, boot_room=room,
                                  modules=max(1, mix.get("boot_modules", 12)), plugins=mix.get("boot_plugins", 6))
    boots_out, incidents = [], []
    boot_lines = 0
    for b in boots:
        placed = b.pop("placed")
        boot_lines += len(placed)
        first, last = placed[0][0], placed[-1][0]
        boots_out.append(dict(b, first_line=first, last_line=last))
        if b["outcome"] != "healthy":
            incidents.append({
                "cause": b["outcome"], "boot": b["boot"], "esxi": b["esxi"], "host": b["host"],
                "first_line": first, "last_line": last,
                "lines": [ln for ln, role, _, _ in placed if role == "fail"],
                "context_lines": [ln for ln, role, _, _ in placed if role in ("ctx", "tpm")],
            })
    sink.close()
    elapsed = time.time() - t_start
    truth = {
        "generator": GENERATOR, "generator_version": GENERATOR_VERSION, "seed": args.seed,
        "format": args.format, "requested_size": size, "host": host.name,
        "file": os.path.basename(args.out), "bytes": sink.bytes, "lines": sink.lines,
        "tpm_lines": sink.tpm_lines,
        "mix": mix.get("name", "default"), "hosts": len(hosts), "boot_lines": boot_lines,
        "gzip": os.path.basename(gz_path) if gz_path else None,
        "expected_verdict": expected_verdict(boots_out),
        "boots": boots_out, "hostd_restarts": decoy_restarts,
        "incidents": incidents,
        "notes": ("line numbers are 1-based; first_line/last_line bound the injected boot sequence of the "
                  "incident, lines[] are its TPM failure lines, context_lines[] its other TPM lines; "
                  "tpm_lines = number of lines matching 'tpm' case-insensitively (rg -c -i tpm)"),
    }
    if not args.quiet:
        mb = sink.bytes / 1e6
        print(f"gen_corpus: {sink.bytes} bytes, {sink.lines} lines, {len(boots_out)} boots, "
              f"{len(incidents)} incidents, {sink.tpm_lines} tpm lines, "
              f"{100.0 * boot_lines / max(1, sink.lines):.1f} % boot lines in {elapsed:.1f} s "
              f"({mb / max(elapsed, 1e-9):.0f} MB/s)", file=sys.stderr)
    return truth


def expected_verdict(boots) -> str:
    """The verdict the whole corpus deserves: the newest boot decides (DESIGN.md §1)."""
    if not boots:
        return "no_tpm_evidence"
    if boots[-1]["outcome"] != "healthy":
        return "problem"
    return "resolved" if any(b["outcome"] != "healthy" for b in boots) else "healthy"


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Generate a realistic ESXi vmkernel+hostd log corpus with TPM incidents at known lines.",
        epilog="Example: bench/gen_corpus.py --size 1G --seed 1 --out /tmp/c.log --truth /tmp/c.json --gzip")
    ap.add_argument("--size", type=parse_size, default=parse_size("64M"),
                    help="target size in bytes; K/M/G are binary (1G = 1 GiB). The file ends on a line "
                         "boundary at most one line short of it. Default 64M")
    ap.add_argument("--seed", type=int, default=1, help="random seed (output is deterministic per seed). Default 1")
    ap.add_argument("--out", required=True, help="output log file")
    ap.add_argument("--truth", help="write the JSON truth (incidents, line numbers) here")
    ap.add_argument("--format", choices=["7", "8", "mixed"], default="mixed",
                    help="ESXi log shapes: 7, 8, or mixed (7 until half way, then an upgrade to 8). Default mixed")
    ap.add_argument("--boots", type=int, default=None,
                    help="number of boots (default: one per 8 MiB, at least 12; every other boot fails)")
    ap.add_argument("--host", help="host name recorded in the truth file")
    ap.add_argument("--mix", type=parse_mix, default=None,
                    help="the corpus mix: a preset (" + ", ".join(MIXES) + "), optionally with overrides, e.g. "
                         "'boot-heavy,hosts=2,vsan=40' (keys: boots_per_gib, boot_modules, boot_plugins, "
                         "boot_rate, incidents, hosts, or a noise family's weight). Default: default")
    ap.add_argument("--gzip", action="store_true", help="also write OUT.gz (gzip -6, generated concurrently)")
    ap.add_argument("--quiet", action="store_true", help="no summary on stderr")
    args = ap.parse_args(argv)
    if args.size < (1 << 20):
        ap.error("--size must be at least 1M")
    truth = generate(args)
    if args.truth:
        with open(args.truth, "w") as f:
            json.dump(truth, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
