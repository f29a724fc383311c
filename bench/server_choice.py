"""Sync vs grpc.aio server on a bare health-check echo (server in its own process).

Run: .venv/bin/python bench/server_choice.py sync  |  .venv/bin/python bench/server_choice.py aio
"""
import asyncio
import sys
import threading
import time
from concurrent import futures

import grpc
from grpc_health.v1 import _async as ahealth
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def load(addr, inflight=16, seconds=3.0):
    ch = grpc.insecure_channel(addr); stub = health_pb2_grpc.HealthStub(ch)
    req = health_pb2.HealthCheckRequest()
    for _ in range(200): stub.Check(req)
    count=[0]; stop=time.perf_counter()+seconds; lat=[]
    def worker():
        n=0
        while time.perf_counter()<stop:
            t=time.perf_counter_ns(); stub.Check(req); lat.append(time.perf_counter_ns()-t); n+=1
        count[0]+=n
    ts=[threading.Thread(target=worker) for _ in range(inflight)]
    t0=time.perf_counter(); [t.start() for t in ts]; [t.join() for t in ts]
    el=time.perf_counter()-t0; lat.sort()
    return count[0]/el, lat[len(lat)//2]/1e6

def sync_server():
    s=grpc.server(futures.ThreadPoolExecutor(32)); h=health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(h,s); p=s.add_insecure_port("127.0.0.1:0"); s.start(); return s,p

mode=sys.argv[1]
if mode=="sync":
    import multiprocessing
    def run_sync(q):
        s,p=sync_server(); q.put(p); s.wait_for_termination()
    q=multiprocessing.Queue(); pr=multiprocessing.Process(target=run_sync,args=(q,)); pr.start(); p=q.get()
    for inf in (1,16): print("sync", inf, "rps=%.0f p50=%.3fms" % load(f"127.0.0.1:{p}", inf))
    pr.kill()
else:
    import multiprocessing
    def run_aio(q):
        async def main():
            s=grpc.aio.server(); h=ahealth.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(h,s); p=s.add_insecure_port("127.0.0.1:0"); await s.start(); q.put(p); await s.wait_for_termination()
        asyncio.run(main())
    q=multiprocessing.Queue(); pr=multiprocessing.Process(target=run_aio,args=(q,)); pr.start(); p=q.get()
    for inf in (1,16): print("aio", inf, "rps=%.0f p50=%.3fms" % load(f"127.0.0.1:{p}", inf))
    pr.kill()
