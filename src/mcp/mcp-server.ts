import { McpServer } from '@modelcontextprotocol/server';
import { registerPrompts } from './prompts.js';
import { registerResources } from './resources.js';
import type { McpContext } from './tool-kit.js';
import { registerAgentTools } from './tools/agent-tools.js';
import { registerSupervisorTools } from './tools/supervisor-tools.js';
import { registerTaskGet } from './tools/task-get.js';

export const SERVER_NAME = 'cns';

/**
 * Builds one MCP server instance for a connection (the stdio entry may build one per protocol era
 * it probes): the role's tools, the prompts and the resources, all over the process's shared
 * context (coordinator, agent session).
 */
export function createMcpServer(ctx: McpContext, version: string): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, title: 'cns — coordination for agent fleets', version },
    {
      capabilities: { tools: {}, prompts: {}, resources: {} },
      instructions: instructions(ctx),
    },
  );
  if (ctx.role !== 'supervisor') registerAgentTools(server, ctx);
  if (ctx.role !== 'agent') registerSupervisorTools(server, ctx);
  registerTaskGet(server, ctx);
  registerPrompts(server, ctx);
  registerResources(server, ctx);
  return server;
}

function instructions(ctx: McpContext): string {
  const parts: string[] = [];
  if (ctx.session) {
    const a = ctx.session.agent;
    parts.push(
      `You are agent ${a.name} (type ${a.type}) of a cns fleet. Take work with task_next, report with task_update, ` +
        'ask with task_ask when you need a decision, finish with task_complete / task_fail / task_release, then call task_next again. The worker prompt describes the loop.',
    );
  }
  if (ctx.role !== 'agent') {
    parts.push(
      'As supervisor: plan with fleet_status, queue with workflow_create / task_create, watch with task_wait, ' +
        "review with task_review, answer the agents' questions with task_answer. The supervisor prompt describes the loop.",
    );
  }
  return parts.join('\n');
}
