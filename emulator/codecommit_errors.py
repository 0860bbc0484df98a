"""Every error ccemu's CodeCommit API answers, with AWS's own message and where it comes from.

The services (`emulator.repos`, its data keys included, and `emulator.events`) and the CodeCommit
door raise CodeCommit errors only through `error(code, **fields)`, so a message is written once,
here, next to its source. `emulator/docs/codecommit_errors.md` is this table rendered
(`render_table`); a test keeps the two equal and checks that every error code raised on the
CodeCommit path is listed here.

Sources, best first:

- RECORDED: AWS's answer as recorded in a public project's tests or in a user's report of an
  AWS response; the text is AWS's, word for word (trailing space included).
- MODEL: the documentation string of the error shape in botocore's CodeCommit service model
  (`codecommit/2015-04-13/service-2.json`), its first paragraph without markup. AWS's runtime
  text may say more (a name, a value); where nothing better is known, this is the text AWS
  documents for the error.
- AWS_DOCS: an AWS documentation page gives the message's form.
- CCEMU: no AWS text is known; the message is ccemu's own.

A template's `{fields}` are filled from `error(code, **fields)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.errors import ClientError, client_error

RECORDED, MODEL, AWS_DOCS, CCEMU = "recorded", "model", "aws-docs", "ccemu"

MOTO_TESTS = (
    "AWS's answer as recorded in moto's tests (getmoto/moto tests/test_codecommit/"
    "test_codecommit.py) and its exceptions (moto/codecommit/exceptions.py)"
)
SERVICE_MODEL = "botocore service model, documentation of the error shape"


@dataclass(frozen=True)
class Message:
    code: str
    text: str  # a str.format template
    source: str  # RECORDED, MODEL, AWS_DOCS or CCEMU
    reference: str
    status: int = 400
    # A second message for the same code, for one case of it (e.g. "empty").
    variant: str = ""

    @property
    def key(self) -> str:
        return f"{self.code}:{self.variant}" if self.variant else self.code


def _model(code: str, text: str, status: int = 400) -> Message:
    return Message(code, text, MODEL, SERVICE_MODEL, status)


_MESSAGES: tuple[Message, ...] = (
    # -- recorded AWS answers ---------------------------------------------------------------
    Message("RepositoryDoesNotExistException", "{name} does not exist", RECORDED, MOTO_TESTS),
    Message(
        "RepositoryNameExistsException",
        "Repository named {name} already exists",
        RECORDED,
        MOTO_TESTS,
    ),
    Message(
        "InvalidRepositoryNameException",
        "The repository name is not valid. Repository names can be any valid combination of"
        " letters, numbers, periods, underscores, and dashes between 1 and 100 characters in"
        " length. Names are case sensitive. For more information, see Limits in the AWS"
        " CodeCommit User Guide. ",
        RECORDED,
        MOTO_TESTS,
    ),
    Message(
        "InvalidRepositoryTriggerEventsException",
        "Repository trigger events list cannot be empty",
        RECORDED,
        "AWS's answer to a trigger without events, quoted in"
        " awsdocs/aws-cloudformation-user-guide pull request 274",
        variant="empty",
    ),
    # -- the model's documentation ----------------------------------------------------------
    _model(
        "RepositoryNameRequiredException", "A repository name is required, but was not specified."
    ),
    _model(
        "RepositoryNamesRequiredException",
        "At least one repository name object is required, but was not specified.",
    ),
    _model(
        "MaximumRepositoryNamesExceededException",
        "The maximum number of allowed repository names was exceeded. Currently, this number"
        " is 100.",
    ),
    _model(
        "InvalidRepositoryDescriptionException",
        "The specified repository description is not valid.",
    ),
    _model("RepositoryLimitExceededException", "A repository resource limit was exceeded."),
    _model("InvalidSortByException", "The specified sort by value is not valid."),
    _model("InvalidOrderException", "The specified sort order is not valid."),
    _model("InvalidContinuationTokenException", "The specified continuation token is not valid."),
    _model("BranchDoesNotExistException", "The specified branch does not exist."),
    _model(
        "BranchNameExistsException",
        "Cannot create the branch with the specified name because the commit conflicts with an"
        " existing branch with the same name. Branch names must be unique.",
    ),
    _model("BranchNameRequiredException", "A branch name is required, but was not specified."),
    _model("InvalidBranchNameException", "The specified reference name is not valid."),
    _model(
        "DefaultBranchCannotBeDeletedException",
        "The specified branch is the default branch for the repository, and cannot be deleted."
        " To delete this branch, you must first set another branch as the default branch.",
    ),
    _model("CommitIdRequiredException", "A commit ID was not specified."),
    _model("InvalidCommitIdException", "The specified commit ID is not valid."),
    _model(
        "CommitDoesNotExistException",
        "The specified commit does not exist or no commit was specified, and the specified"
        " repository has no default branch.",
    ),
    _model(
        "ResourceArnRequiredException",
        "A valid Amazon Resource Name (ARN) for an CodeCommit resource is required. For a list"
        " of valid resources in CodeCommit, see CodeCommit Resources and Operations in the"
        " CodeCommit User Guide.",
    ),
    _model(
        "InvalidResourceArnException",
        "The value for the resource ARN is not valid. For more information about resources in"
        " CodeCommit, see CodeCommit Resources and Operations in the CodeCommit User Guide.",
    ),
    _model("TagsMapRequiredException", "A map of tags is required."),
    _model("InvalidTagsMapException", "The map of tags is not valid."),
    _model(
        "TagKeysListRequiredException",
        "A list of tag keys is required. The list cannot be empty or null.",
    ),
    _model("InvalidTagKeysListException", "The list of tags is not valid."),
    _model(
        "InvalidSystemTagUsageException",
        "The specified tag is not valid. Key names cannot be prefixed with aws:.",
    ),
    _model(
        "TooManyTagsException",
        "The maximum number of tags for an CodeCommit resource has been exceeded.",
    ),
    _model("EncryptionIntegrityChecksFailedException", "An encryption integrity check failed."),
    Message(
        "EncryptionIntegrityChecksFailedException",
        "An encryption integrity check failed: {detail}",
        CCEMU,
        "the model's text, then which encrypted file of ccemu's store failed and how"
        " (emulator/kms/segmented.py)",
        variant="file",
    ),
    _model("EncryptionKeyAccessDeniedException", "An encryption key could not be accessed."),
    _model("EncryptionKeyDisabledException", "The encryption key is disabled."),
    _model("EncryptionKeyNotFoundException", "No encryption key was found."),
    _model("EncryptionKeyUnavailableException", "The encryption key is not available."),
    _model(
        "EncryptionKeyInvalidIdException",
        "The Key Management Service encryption key is not valid.",
    ),
    _model(
        "EncryptionKeyRequiredException",
        "A KMS encryption key ID is required but was not specified.",
    ),
    _model(
        "RepositoryTriggersListRequiredException",
        "The list of triggers for the repository is required, but was not specified.",
    ),
    _model(
        "MaximumRepositoryTriggersExceededException",
        "The number of triggers allowed for the repository was exceeded.",
    ),
    _model(
        "RepositoryTriggerNameRequiredException",
        "A name for the trigger is required, but was not specified.",
    ),
    _model("InvalidRepositoryTriggerNameException", "The name of the trigger is not valid."),
    _model(
        "RepositoryTriggerDestinationArnRequiredException",
        "A destination ARN for the target service for the trigger is required, but was not"
        " specified.",
    ),
    _model(
        "InvalidRepositoryTriggerDestinationArnException",
        "The Amazon Resource Name (ARN) for the trigger is not valid for the specified"
        " destination. The most common reason for this error is that the ARN does not meet the"
        " requirements for the service type.",
    ),
    _model(
        "InvalidRepositoryTriggerRegionException",
        "The Amazon Web Services Region for the trigger target does not match the Amazon Web"
        " Services Region for the repository. Triggers must be created in the same Amazon Web"
        " Services Region as the target for the trigger.",
    ),
    _model(
        "InvalidRepositoryTriggerEventsException",
        "One or more events specified for the trigger is not valid. Check to make sure that all"
        " events specified match the requirements for allowed events.",
    ),
    _model(
        "InvalidRepositoryTriggerCustomDataException",
        "The custom data provided for the trigger is not valid.",
    ),
    _model(
        "MaximumBranchesExceededException",
        "The number of branches for the trigger was exceeded.",
    ),
    _model(
        "InvalidRepositoryTriggerBranchNameException",
        "One or more branch names specified for the trigger is not valid.",
    ),
    _model(
        "RepositoryTriggerBranchNameListRequiredException",
        "At least one branch name is required, but was not specified in the trigger configuration.",
    ),
    # Reading code: blobs, files, folders, commits, differences, file history.
    _model("BlobIdRequiredException", "A blob ID is required, but was not specified."),
    _model("InvalidBlobIdException", "The specified blob is not valid."),
    _model("BlobIdDoesNotExistException", "The specified blob does not exist."),
    _model(
        "FileTooLargeException",
        "The specified file exceeds the file size limit for CodeCommit. For more information"
        " about limits in CodeCommit, see Quotas in the CodeCommit User Guide.",
    ),
    _model("CommitRequiredException", "A commit was not specified."),
    _model("InvalidCommitException", "The specified commit is not valid."),
    _model("CommitIdDoesNotExistException", "The specified commit ID does not exist."),
    _model(
        "CommitIdsListRequiredException",
        "A list of commit IDs is required, but was either not specified or the list was empty.",
    ),
    _model(
        "CommitIdsLimitExceededException",
        "The maximum number of allowed commit IDs in a batch request is 100. Verify that your"
        " batch requests contains no more than 100 commit IDs, and then try again.",
    ),
    _model("PathRequiredException", "The folderPath for a location cannot be null."),
    _model("InvalidPathException", "The specified path is not valid."),
    _model("PathDoesNotExistException", "The specified path does not exist."),
    _model(
        "FileDoesNotExistException",
        "The specified file does not exist. Verify that you have used the correct file name,"
        " full path, and extension.",
    ),
    _model(
        "FolderDoesNotExistException",
        "The specified folder does not exist. Either the folder name is not correct, or you did"
        " not enter the full path to the folder.",
    ),
    _model("InvalidMaxResultsException", "The specified number of maximum results is not valid."),
    # -- commits made through the API (emulator/repos/tree_edit.py) ------------------------
    _model(
        "CommitMessageLengthExceededException",
        "The commit message is too long. Provide a shorter string.",
    ),
    _model(
        "DirectoryNameConflictsWithFileNameException",
        "A file cannot be added to the repository because the specified path name has the"
        " same name as a file that already exists in this repository. Either provide a"
        " different name for the file, or specify a different path for the file.",
    ),
    _model(
        "FileContentAndSourceFileSpecifiedException",
        "The commit cannot be created because both a source file and file content have been"
        " specified for the same file. You cannot provide both. Either specify a source file"
        " or provide the file content directly.",
    ),
    _model(
        "FileContentSizeLimitExceededException",
        "The file cannot be added because it is too large. The maximum file size is 6 MB, and"
        " the combined file content change size is 7 MB. Consider making these changes using a"
        " Git client.",
    ),
    _model(
        "FileEntryRequiredException",
        "The commit cannot be created because no files have been specified as added, updated,"
        " or changed (PutFile or DeleteFile) for the commit.",
    ),
    _model(
        "FileModeRequiredException",
        "The commit cannot be created because no file mode has been specified. A file mode is"
        " required to update mode permissions for a file.",
    ),
    _model(
        "FileNameConflictsWithDirectoryNameException",
        "A file cannot be added to the repository because the specified file name has the"
        " same name as a directory in this repository. Either provide another name for the"
        " file, or add the file in a directory that does not match the file name.",
    ),
    _model(
        "FilePathConflictsWithSubmodulePathException",
        "The commit cannot be created because a specified file path points to a submodule."
        " Verify that the destination files have valid file paths that do not point to a"
        " submodule.",
    ),
    _model(
        "InvalidEmailException",
        "The specified email address either contains one or more characters that are not"
        " allowed, or it exceeds the maximum number of characters allowed for an email"
        " address.",
    ),
    _model(
        "InvalidFileModeException",
        "The specified file mode permission is not valid. For a list of valid file mode"
        " permissions, see PutFile.",
    ),
    _model(
        "MaximumFileEntriesExceededException",
        "The number of specified files to change as part of this commit exceeds the maximum"
        " number of files that can be changed in a single commit. Consider using a Git client"
        " for these changes.",
    ),
    _model(
        "NameLengthExceededException",
        "The user name is not valid because it has exceeded the character limit for author names.",
    ),
    _model(
        "NoChangeException",
        "The commit cannot be created because no changes will be made to the repository as a"
        " result of this commit. A commit must contain at least one change.",
    ),
    _model(
        "RestrictedSourceFileException",
        "The commit cannot be created because one of the changes specifies copying or moving"
        " a.gitkeep file.",
    ),
    _model(
        "SameFileContentException",
        "The file was not added or updated because the content of the file is exactly the"
        " same as the content of that file in the repository and branch that you specified.",
    ),
    _model(
        "SamePathRequestException",
        "The commit cannot be created because one or more changes in this commit duplicate"
        " actions in the same file path. For example, you cannot make the same delete request"
        " to the same file in the same file path twice, or make a delete request and a move"
        " request to the same file as part of the same commit.",
    ),
    _model(
        "SourceFileOrContentRequiredException",
        "The commit cannot be created because no source files or file content have been"
        " specified for the commit.",
    ),
    _model(
        "BranchNameIsTagNameException",
        "The specified branch name is not valid because it is a tag name. Enter the name of a"
        " branch in the repository. For a list of valid branch names, use ListBranches.",
    ),
    _model(
        "FileContentRequiredException",
        "The file cannot be added because it is empty. Empty files cannot be added to the"
        " repository with this API.",
    ),
    _model(
        "InvalidParentCommitIdException",
        "The parent commit ID is not valid. The commit ID cannot be empty, and must match the"
        " head commit ID for the branch of the repository where you want to add or update a"
        " file.",
    ),
    _model(
        "ParentCommitDoesNotExistException",
        "The parent commit ID is not valid because it does not exist. The specified parent"
        " commit ID does not exist in the specified branch of the repository.",
    ),
    _model(
        "ParentCommitIdOutdatedException",
        "The file could not be added because the provided parent commit ID is not the current"
        " tip of the specified branch. To view the full commit ID of the current head of the"
        " branch, use GetBranch.",
    ),
    _model(
        "ParentCommitIdRequiredException",
        "A parent commit ID is required. To view the full commit ID of a branch in a"
        " repository, use GetBranch or a Git command (for example, git pull or git log).",
    ),
    # -- merges (emulator/repos/merge.py, emulator/api/codecommit/merges.py) ---------------
    _model(
        "InvalidConflictDetailLevelException", "The specified conflict detail level is not valid."
    ),
    _model(
        "InvalidConflictResolutionStrategyException",
        "The specified conflict resolution strategy is not valid.",
    ),
    _model(
        "MergeOptionRequiredException",
        "A merge option or stategy is required, and none was provided.",
    ),
    _model(
        "InvalidMergeOptionException",
        "The specified merge option is not valid for this operation. Not all merge strategies"
        " are supported for all operations.",
    ),
    _model(
        "InvalidMaxConflictFilesException",
        "The specified value for the number of conflict files to return is not valid.",
    ),
    _model(
        "InvalidMaxMergeHunksException",
        "The specified value for the number of merge hunks to return is not valid.",
    ),
    _model(
        "InvalidSourceCommitSpecifierException",
        "The source commit specifier is not valid. You must provide a valid branch name, tag,"
        " or full commit ID.",
    ),
    _model(
        "InvalidDestinationCommitSpecifierException",
        "The destination commit specifier is not valid. You must provide a valid branch name,"
        " tag, or full commit ID.",
    ),
    # -- merges that write (emulator/repos/branch_merges.py) ------------------------------
    _model(
        "InvalidConflictResolutionException",
        "The specified conflict resolution list is not valid.",
    ),
    _model(
        "InvalidReplacementContentException",
        "Automerge was specified for resolving the conflict, but the replacement type is not"
        " valid or content is missing.",
    ),
    _model(
        "InvalidReplacementTypeException",
        "Automerge was specified for resolving the conflict, but the specified replacement"
        " type is not valid.",
    ),
    _model(
        "InvalidTargetBranchException",
        "The specified target branch is not valid.",
    ),
    _model(
        "ManualMergeRequiredException",
        "The pull request cannot be merged automatically into the destination branch. You"
        " must manually merge the branches and resolve any conflicts.",
    ),
    _model(
        "MaximumConflictResolutionEntriesExceededException",
        "The number of allowed conflict resolution entries was exceeded.",
    ),
    _model(
        "MultipleConflictResolutionEntriesException",
        "More than one conflict resolution entries exists for the conflict. A conflict can"
        " have only one conflict resolution entry.",
    ),
    _model(
        "ReplacementContentRequiredException",
        "USE_NEW_CONTENT was specified, but no replacement content has been provided.",
    ),
    _model(
        "ReplacementTypeRequiredException",
        "A replacement type is required.",
    ),
    Message(
        "ConcurrentReferenceUpdateException",
        "The merge cannot be completed because the target branch has been modified. Another"
        " user might have modified the target branch while the merge was in progress. Wait a"
        " few minutes, and then try again.",
        MODEL,
        SERVICE_MODEL,
        variant="merge",
    ),
    # -- pull requests (emulator/repos/pull_requests.py, emulator/api/codecommit/pull_requests.py)
    _model(
        "PullRequestDoesNotExistException",
        "The pull request ID could not be found. Make sure that you have specified the "
        "correct repository name and pull request ID, and then try again.",
    ),
    _model(
        "InvalidPullRequestIdException",
        "The pull request ID is not valid. Make sure that you have provided the full ID "
        "and that the pull request is in the specified repository, and then try again.",
    ),
    _model(
        "PullRequestIdRequiredException",
        "A pull request ID is required, but none was provided.",
    ),
    _model(
        "ClientRequestTokenRequiredException",
        "A client request token is required. A client request token is an unique, client-"
        "generated idempotency token that, when provided in a request, ensures the "
        "request cannot be repeated with a changed parameter. If a request is received "
        "with the same parameters and a token is included, the request returns "
        "information about the initial request that used that token.",
    ),
    _model(
        "InvalidClientRequestTokenException",
        "The client request token is not valid.",
    ),
    _model(
        "IdempotencyParameterMismatchException",
        "The client request token is not valid. Either the token is not in a valid "
        "format, or the token has been used in a previous request and cannot be reused.",
    ),
    _model(
        "ReferenceNameRequiredException",
        "A reference name is required, but none was provided.",
    ),
    _model(
        "InvalidReferenceNameException",
        "The specified reference name format is not valid. Reference names must conform "
        "to the Git references format (for example, refs/heads/main). For more "
        "information, see Git Internals - Git References or consult your Git "
        "documentation.",
    ),
    _model(
        "ReferenceDoesNotExistException",
        "The specified reference does not exist. You must provide a full commit ID.",
    ),
    _model(
        "ReferenceTypeNotSupportedException",
        "The specified reference is not a supported type.",
    ),
    _model(
        "TitleRequiredException",
        "A pull request title is required. It cannot be empty or null.",
    ),
    _model(
        "InvalidTitleException",
        "The title of the pull request is not valid. Pull request titles cannot exceed "
        "100 characters in length.",
    ),
    _model(
        "InvalidDescriptionException",
        "The pull request description is not valid. Descriptions cannot be more than "
        "1,000 characters.",
    ),
    _model(
        "TargetsRequiredException",
        "An array of target objects is required. It cannot be empty or null.",
    ),
    _model(
        "InvalidTargetsException",
        "The targets for the pull request is not valid or not in a valid format. Targets "
        "are a list of target objects. Each target object must contain the full values "
        "for the repository name, source branch, and destination branch for a pull "
        "request.",
    ),
    _model(
        "InvalidTargetException",
        "The target for the pull request is not valid. A target must contain the full "
        "values for the repository name, source branch, and destination branch for the "
        "pull request.",
    ),
    _model(
        "MultipleRepositoriesInPullRequestException",
        "You cannot include more than one repository in a pull request. Make sure you "
        "have specified only one repository name in your request, and then try again.",
    ),
    _model(
        "MaximumOpenPullRequestsExceededException",
        "You cannot create the pull request because the repository has too many open pull"
        " requests. The maximum number of open pull requests for a repository is 1,000. "
        "Close one or more open pull requests, and then try again.",
    ),
    _model(
        "SourceAndDestinationAreSameException",
        "The source branch and destination branch for the pull request are the same. You "
        "must specify different branches for the source and destination.",
    ),
    _model(
        "InvalidPullRequestStatusException",
        "The pull request status is not valid. The only valid values are OPEN and CLOSED.",
    ),
    _model(
        "InvalidPullRequestStatusUpdateException",
        "The pull request status update is not valid. The only valid update is from OPEN "
        "to CLOSED.",
    ),
    _model(
        "PullRequestStatusRequiredException",
        "A pull request status is required, but none was provided.",
    ),
    _model(
        "PullRequestAlreadyClosedException",
        "The pull request status cannot be updated because it is already closed.",
    ),
    _model(
        "InvalidAuthorArnException",
        "The Amazon Resource Name (ARN) is not valid. Make sure that you have provided "
        "the full ARN for the author of the pull request, and then try again.",
    ),
    _model(
        "InvalidPullRequestEventTypeException",
        "The pull request event type is not valid.",
    ),
    _model(
        "InvalidActorArnException",
        "The Amazon Resource Name (ARN) is not valid. Make sure that you have provided "
        "the full ARN for the user who initiated the change for the pull request, and "
        "then try again.",
    ),
    _model(
        "TipOfSourceReferenceIsDifferentException",
        "The tip of the source branch in the destination repository does not match the "
        "tip of the source branch specified in your request. The pull request might have "
        "been updated. Make sure that you have the latest changes.",
    ),
    _model(
        "RepositoryNotAssociatedWithPullRequestException",
        "The repository does not contain any pull requests with that pull request ID. Use"
        " GetPullRequest to verify the correct repository name for the pull request ID.",
    ),
    # -- approval rules (emulator/repos/approval_rules.py, emulator/api/codecommit/approvals.py)
    _model(
        "ApprovalRuleNameRequiredException",
        "An approval rule name is required, but was not specified.",
    ),
    _model(
        "InvalidApprovalRuleNameException",
        "The name for the approval rule is not valid.",
    ),
    _model(
        "ApprovalRuleNameAlreadyExistsException",
        "An approval rule with that name already exists. Approval rule names must be "
        "unique within the scope of a pull request.",
    ),
    _model(
        "ApprovalRuleContentRequiredException",
        "The content for the approval rule is empty. You must provide some content for an"
        " approval rule. The content cannot be null.",
    ),
    _model(
        "InvalidApprovalRuleContentException",
        "The content for the approval rule is not valid.",
    ),
    _model(
        "NumberOfRulesExceededException",
        "The approval rule cannot be added. The pull request has the maximum number of "
        "approval rules associated with it.",
    ),
    _model(
        "ApprovalRuleDoesNotExistException",
        "The specified approval rule does not exist.",
    ),
    _model(
        "InvalidRuleContentSha256Exception",
        "The SHA-256 hash signature for the rule content is not valid.",
    ),
    _model(
        "CannotModifyApprovalRuleFromTemplateException",
        "The approval rule cannot be modified for the pull request because it was created"
        " by an approval rule template and applied to the pull request automatically.",
    ),
    _model(
        "CannotDeleteApprovalRuleFromTemplateException",
        "The approval rule cannot be deleted from the pull request because it was created"
        " by an approval rule template and applied to the pull request automatically.",
    ),
    _model(
        "InvalidRevisionIdException",
        "The revision ID is not valid. Use GetPullRequest to determine the value.",
    ),
    _model(
        "RevisionIdRequiredException",
        "A revision ID is required, but was not provided.",
    ),
    _model(
        "InvalidApprovalStateException",
        "The state for the approval is not valid. Valid values include APPROVE and REVOKE.",
    ),
    _model(
        "ApprovalStateRequiredException",
        "An approval state is required, but was not specified.",
    ),
    _model(
        "PullRequestCannotBeApprovedByAuthorException",
        "The approval cannot be applied because the user approving the pull request "
        "matches the user who created the pull request. You cannot approve a pull request"
        " that you created.",
    ),
    _model(
        "RevisionNotCurrentException",
        "The revision ID provided in the request does not match the current revision ID. "
        "Use GetPullRequest to retrieve the current revision ID.",
    ),
    _model(
        "MaximumNumberOfApprovalsExceededException",
        "The number of approvals required for the approval rule exceeds the maximum "
        "number allowed.",
    ),
    _model(
        "InvalidOverrideStatusException",
        "The override status is not valid. Valid statuses are OVERRIDE and REVOKE.",
    ),
    _model(
        "OverrideStatusRequiredException",
        "An override status is required, but no value was provided. Valid values include "
        "OVERRIDE and REVOKE.",
    ),
    _model(
        "OverrideAlreadySetException",
        "The pull request has already had its approval rules set to override.",
    ),
    _model(
        "PullRequestApprovalRulesNotSatisfiedException",
        "The pull request cannot be merged because one or more approval rules applied to "
        "the pull request have conditions that have not been met.",
    ),
    # -- approval rule templates (emulator/repos/approval_templates.py, its API area)
    _model(
        "ApprovalRuleTemplateNameRequiredException",
        "An approval rule template name is required, but was not specified.",
    ),
    _model(
        "InvalidApprovalRuleTemplateNameException",
        "The name of the approval rule template is not valid. Template names must be "
        "between 1 and 100 valid characters in length. For more information about limits "
        "in CodeCommit, see Quotas in the CodeCommit User Guide.",
    ),
    _model(
        "ApprovalRuleTemplateNameAlreadyExistsException",
        "You cannot create an approval rule template with that name because a template "
        "with that name already exists in this Amazon Web Services Region for your Amazon"
        " Web Services account. Approval rule template names must be unique.",
    ),
    _model(
        "ApprovalRuleTemplateContentRequiredException",
        "The content for the approval rule template is empty. You must provide some "
        "content for an approval rule template. The content cannot be null.",
    ),
    _model(
        "InvalidApprovalRuleTemplateContentException",
        "The content of the approval rule template is not valid.",
    ),
    _model(
        "InvalidApprovalRuleTemplateDescriptionException",
        "The description for the approval rule template is not valid because it exceeds "
        "the maximum characters allowed for a description. For more information about "
        "limits in CodeCommit, see Quotas in the CodeCommit User Guide.",
    ),
    _model(
        "NumberOfRuleTemplatesExceededException",
        "The maximum number of approval rule templates has been exceeded for this Amazon "
        "Web Services Region.",
    ),
    _model(
        "ApprovalRuleTemplateDoesNotExistException",
        "The specified approval rule template does not exist. Verify that the name is "
        "correct and that you are signed in to the Amazon Web Services Region where the "
        "template was created, and then try again.",
    ),
    _model(
        "ApprovalRuleTemplateInUseException",
        "The approval rule template is associated with one or more repositories. You "
        "cannot delete a template that is associated with a repository. Remove all "
        "associations, and then try again.",
    ),
    _model(
        "MaximumRuleTemplatesAssociatedWithRepositoryException",
        "The maximum number of approval rule templates for a repository has been "
        "exceeded. You cannot associate more than 25 approval rule templates with a "
        "repository.",
    ),
    # -- comments and reactions (emulator/repos/comments.py, reactions.py) -----------------
    _model(
        "CommentContentRequiredException",
        "The comment is empty. You must provide some content for a comment. The content cannot"
        " be null.",
    ),
    _model(
        "CommentContentSizeLimitExceededException",
        "The comment is too large. Comments are limited to 10,240 characters.",
    ),
    _model(
        "InvalidFileLocationException",
        "The location of the file is not valid. Make sure that you include the file name and"
        " extension.",
    ),
    _model(
        "InvalidRelativeFileVersionEnumException",
        "Either the enum is not in a valid format, or the specified file version enum is not"
        " valid in respect to the current file version.",
    ),
    _model(
        "InvalidFilePositionException",
        "The position is not valid. Make sure that the line number exists in the version of"
        " the file you want to comment on.",
    ),
    _model(
        "BeforeCommitIdAndAfterCommitIdAreSameException",
        "The before commit ID and the after commit ID are the same, which is not valid. The"
        " before commit ID and the after commit ID must be different commit IDs.",
    ),
    _model(
        "CommentDoesNotExistException",
        "No comment exists with the provided ID. Verify that you have used the correct ID, and"
        " then try again.",
    ),
    _model(
        "CommentIdRequiredException",
        "The comment ID is missing or null. A comment ID is required.",
    ),
    _model(
        "InvalidCommentIdException",
        "The comment ID is not in a valid format. Make sure that you have provided the full"
        " comment ID.",
    ),
    _model(
        "CommentDeletedException",
        "This comment has already been deleted. You cannot edit or delete a deleted comment.",
    ),
    _model(
        "CommentNotCreatedByCallerException",
        "You cannot modify or delete this comment. Only comment authors can modify or delete"
        " their comments.",
    ),
    _model(
        "InvalidReactionValueException",
        "The value of the reaction is not valid. For more information, see the CodeCommit"
        " User Guide.",
    ),
    _model("ReactionValueRequiredException", "A reaction value is required."),
    _model(
        "InvalidReactionUserArnException",
        "The Amazon Resource Name (ARN) of the user or identity is not valid.",
    ),
    _model(
        "AuthorDoesNotExistException",
        "The specified Amazon Resource Name (ARN) does not exist in the Amazon Web Services"
        " account.",
    ),
    _model(
        "ActorDoesNotExistException",
        "The specified Amazon Resource Name (ARN) does not exist in the Amazon Web Services"
        " account.",
    ),
    # -- ccemu's own, no AWS text known -----------------------------------------------------
    Message(
        "ConcurrentReferenceUpdateException",
        "Branch {name} kept changing while it was being deleted; try again.",
        CCEMU,
        "ccemu: DeleteBranch lost its compare-and-swap to concurrent pushes; the model's text"
        " for this shape speaks of merges",
    ),
)

# Errors of every AWS service, raised before or around a CodeCommit handler. Listed so the
# table covers all a CodeCommit client can receive; they are raised where they are defined.
COMMON: tuple[Message, ...] = (
    Message(
        "AccessDeniedException",
        "User: {principal} is not authorized to perform: {action} on resource: {resource}",
        AWS_DOCS,
        "IAM User Guide, troubleshooting access denied error messages",
    ),
    Message(
        "ValidationException",
        "{n} validation error(s) detected: Value '{value}' at '{member}' failed to satisfy"
        " constraint: {constraint}",
        AWS_DOCS,
        "AWS's validation message form (AWS API Reference, Common Errors); used for a model"
        " constraint CodeCommit names no own exception for",
    ),
    Message(
        "SerializationException",
        "The request body is not valid JSON, or a member has the wrong type.",
        CCEMU,
        "ccemu (emulator/api/json_protocol.py, emulator/api/shapes.py)",
    ),
    Message(
        "UnknownOperationException",
        "X-Amz-Target names no operation of CodeCommit.",
        CCEMU,
        "ccemu (emulator/api/json_protocol.py)",
    ),
    Message(
        "NotImplementedException",
        "ccemu does not implement CodeCommit {operation} yet",
        CCEMU,
        "ccemu (emulator/api/json_protocol.py)",
        501,
    ),
    Message(
        "RequestEntityTooLargeException",
        "The request body exceeds ccemu's limit.",
        CCEMU,
        "ccemu (emulator/api/endpoint.py)",
        413,
    ),
    Message(
        "MissingAuthenticationTokenException",
        "The request carries no SigV4 signature.",
        CCEMU,
        "ccemu (emulator/iam/sigv4.py)",
        403,
    ),
    Message(
        "IncompleteSignatureException",
        "The SigV4 Authorization header lacks a part.",
        CCEMU,
        "ccemu (emulator/iam/sigv4.py)",
        403,
    ),
    Message(
        "InvalidSignatureException",
        "The request signature does not match.",
        CCEMU,
        "ccemu (emulator/iam/sigv4.py)",
        403,
    ),
    Message(
        "UnrecognizedClientException",
        "The access key is not known.",
        CCEMU,
        "ccemu (emulator/iam/sigv4.py)",
        403,
    ),
    Message(
        "ExpiredTokenException",
        "The security token has expired.",
        CCEMU,
        "ccemu (emulator/iam/sigv4.py)",
        403,
    ),
    Message(
        "InternalFailure",
        "An internal error occurred in ccemu; see its log.",
        CCEMU,
        "ccemu (emulator/api/endpoint.py)",
        500,
    ),
)

MESSAGES: dict[str, Message] = {m.key: m for m in _MESSAGES}
TABLE: dict[str, Message] = {**MESSAGES, **{m.key: m for m in COMMON}}


def message(code: str, variant: str = "", **fields: object) -> str:
    return MESSAGES[f"{code}:{variant}" if variant else code].text.format(**fields)


def error(code: str, variant: str = "", **fields: object) -> ClientError:
    """The CodeCommit error `code` with AWS's message (see the table above)."""
    entry = MESSAGES[f"{code}:{variant}" if variant else code]
    return client_error(code, entry.text.format(**fields), entry.status)


_SOURCE_NAMES = {
    RECORDED: "recorded AWS answer",
    MODEL: "service model",
    AWS_DOCS: "AWS documentation",
    CCEMU: "ccemu (no AWS text known)",
}


def render_table() -> str:
    """`emulator/docs/codecommit_errors.md`: every error with its message and source."""
    lines = [
        "# CodeCommit errors and where their messages come from",
        "",
        "Generated from `emulator/codecommit_errors.py` (`render_table`); a test keeps this file",
        "equal to it. `{field}` stands for a value of the request.",
        "",
        "| Error code | HTTP | Message | Source | Where from |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in sorted(TABLE.values(), key=lambda m: (m.code, m.variant)):
        text = entry.text.replace("|", "\\|")
        if text != text.rstrip():
            text = text.rstrip() + " (with a trailing space)"
        lines.append(
            f"| {entry.code} | {entry.status} | {text} | {_SOURCE_NAMES[entry.source]}"
            f" | {entry.reference} |"
        )
    return "\n".join(lines) + "\n"
