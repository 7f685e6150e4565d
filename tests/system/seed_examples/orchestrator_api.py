# orchestrator_api.py: Creates tasks through REST API for agents pick up
from fastapi import FastAPI
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator

app = FastAPI()
client = BoltClient(host="localhost", port=8518, username="admin", password="secret")
client.connect()
coord = TaskCoordinator(client)

@app.post("/tasks")
def create_task(body: dict):
    """External systems call this API to create tasks."""
    task = coord.create_task(body["type"], body.get("data", {}))
    return {"task_id": task.id, "status": task.status}

@app.get("/tasks/{task_id}")
def get_task(task_id: str):
    """Get task status and result."""
    task = coord.get_task(task_id)
    if not task:
        return {"error": "not found"}, 404
    return {"status": task.status, "result": task.result}

# curl -X POST http://localhost:8000/tasks -H "Content-Type: application/json" -d '{"type": "research", "data": {"query": "AI safety"}}'
