# summarize_agent.py
from bolt_client import BoltClient
from bolt_agents import TaskCoordinator, Task

client = BoltClient(host="localhost", port=8518, username="admin", password="secret")
client.connect()
coord = TaskCoordinator(client)

# Called when a summarize task is available
def handle_summarize(task: Task):
    content = task.data.get("content") or task.data.get("doc_id")

    # ... Implementation here
    result = {"summary": f"Summary of: {content[:50]}...", "word_count": 150}

    coord.complete_task(task.id, result)

coord.subscribe("summarize", agent_id="summarize_agent_01", callback=handle_summarize)
